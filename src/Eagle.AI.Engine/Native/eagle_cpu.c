// The bf16 few-row linear of the CPU kernel (Llama/CpuLinearKernel.cs), with AVX512-BF16's VDPBF16PS.
//
// Why native: .NET has no intrinsic for VDPBF16PS, and beyond one input row the managed kernel is bound by fp32 FMAs
// (each bf16 weight widened, then one 16-lane FMA per 16 products). VDPBF16PS multiplies 32 bf16 pairs into 16 fp32
// lanes in one instruction: measured on the 2-core EPYC this targets, 73–105 G products/s a core (12 or 24 independent
// accumulators) against 32–34 for the FMA route, so an 8-token verify of the llama3-1b shape went from 2.1× a one-token
// step to 1.4–1.7×.
// Like the managed kernel it reads W [out, in] in place, rounds the fp32 sum to bf16 once (nearest even, as
// c10::BFloat16), and leaves threading to the caller, which hands each worker its run of output rows.
//
// VDPBF16PS treats bf16 denormals as zero; libtorch's bf16 GEMM (oneDNN) uses the same instruction.

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define ROWS 6   // weight rows per pass: 6 weight registers
#define INPUTS 4 // input rows per tile: 6 × 4 accumulators + 6 weights + 1 input = 31 of the 32 registers

static inline uint16_t to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0; // NaN stays a quiet NaN
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// y[i0 + b, r + a] for a < rows, b < inputs: ROWS weight rows (a short last pass repeats its last row, computed but
// not stored) against `inputs` input rows, each weight load serving every input.
static inline __attribute__((always_inline)) void tile(
    const uint16_t *w, const uint16_t *x, uint16_t *y, int in, int out, int r, int rows, int i0, const int inputs)
{
    __m512 acc[ROWS][INPUTS];
    const uint16_t *wr[ROWS];
    for (int a = 0; a < ROWS; a++)
    {
        wr[a] = w + (long)(r + (a < rows ? a : rows - 1)) * in;
        for (int b = 0; b < inputs; b++) acc[a][b] = _mm512_setzero_ps();
    }
    for (int k = 0; k < in; k += 32)
    {
        __m512i wv[ROWS];
        for (int a = 0; a < ROWS; a++) wv[a] = _mm512_loadu_si512(wr[a] + k);
        for (int b = 0; b < inputs; b++)
        {
            __m512i xv = _mm512_loadu_si512(x + (long)(i0 + b) * in + k);
            for (int a = 0; a < ROWS; a++) acc[a][b] = _mm512_dpbf16_ps(acc[a][b], (__m512bh)wv[a], (__m512bh)xv);
        }
    }
    for (int a = 0; a < rows; a++)
        for (int b = 0; b < inputs; b++) y[(long)(i0 + b) * out + r + a] = to_bf16(_mm512_reduce_add_ps(acc[a][b]));
}


/// y [n, out] rows first ≤ j < last = x [n, in] · w [out, in]ᵀ, all bf16, `in` a multiple of 32.
void eagle_linear_bf16(const uint16_t *w, const uint16_t *x, uint16_t *y, int n, int in, int out, int first, int last)
{
    for (int r = first; r < last; r += ROWS)
    {
        int rows = last - r < ROWS ? last - r : ROWS;
        int i = 0;
        for (; i + INPUTS <= n; i += INPUTS) tile(w, x, y, in, out, r, rows, i, INPUTS);
        switch (n - i) // constant tile sizes, so each unrolls into registers
        {
        case 3: tile(w, x, y, in, out, r, rows, i, 3); break;
        case 2: tile(w, x, y, in, out, r, rows, i, 2); break;
        case 1: tile(w, x, y, in, out, r, rows, i, 1); break;
        default: break;
        }
    }
}
