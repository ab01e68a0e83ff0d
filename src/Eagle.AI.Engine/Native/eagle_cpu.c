// The CPU's bf16 hot paths with AVX512-BF16's VDPBF16PS: the few-row linear of the CPU kernel
// (Llama/CpuLinearKernel.cs), the decode attention (Llama/DecodeAttention.cs) and a layer's small ops
// (Llama/NativeOps.cs), further down.
//
// Built twice: with -mavx512bf16 (libeagle_cpu.so), and without it for AVX-512 CPUs that lack it
// (libeagle_cpu_avx512.so), where dot_bf16 and round_bf16 below compute the same sums and roundings from AVX-512F/BW
// instructions. There the managed loop was bound by vector ops and by the JIT's register moves; this loop, as the C
// compiler schedules it, measured on a 2-core Xeon without AVX512-BF16 (llama3-1b, × a one-token step): a 4-token
// verify 1.20 → 1.06, 8 tokens 1.85 → 1.36, 16 tokens 3.1 → 2.3; a one-token step 108 → 98 ms.
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
#include <math.h>
#include <string.h>

#define ROWS 6   // weight rows per pass: 6 weight registers
#define INPUTS 4 // input rows per tile: 6 × 4 accumulators + 6 weights + 1 input = 31 of the 32 registers
#define WIDE_ROWS 4   // without AVX512-BF16, 8 inputs and more: 4 weight rows per pass,
#define WIDE_INPUTS 8 // 8 inputs per tile (4 × 8 accumulators: the compiler keeps what it can in registers)
#define AHEAD 512 // elements (1 KiB) ahead of each weight row that a first pass of several inputs prefetches

static inline uint16_t to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0; // NaN stays a quiet NaN
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// 16 bf16 values widened to fp32 (exact: a bf16 is the top half of an fp32), and 16 fp32 values rounded to bf16,
// nearest even, by VCVTNEPS2BF16 (c10::BFloat16's rounding; NaN stays NaN; like VDPBF16PS it flushes denormals, which
// to_bf16 above keeps).
static inline __m512 widen_bf16(__m256i x) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(x), 16)); }
static inline __m512 load_bf16(const uint16_t *p) { return widen_bf16(_mm256_loadu_si256((const __m256i *)p)); }
#ifdef __AVX512BF16__
static inline __m256i round_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }
// acc + a₁·b₁ + a₀·b₀ over each lane's pair of bf16: VDPBF16PS.
static inline __m512 dot_bf16(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
#else
// The build for AVX-512 CPUs without AVX512-BF16 (libeagle_cpu_avx512.so): the same two operations from AVX-512F/BW.
// Rounding: nearest even on the bits (a NaN becomes the quiet NaN), then the high halves packed; unlike
// VCVTNEPS2BF16 it keeps denormals, as c10::BFloat16 does.
static inline __m256i round_bf16(__m512 x)
{
    __m512i bits = _mm512_castps_si512(x);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i up = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
    up = _mm512_mask_mov_epi32(up, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC00000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(up, 16));
}
// VDPBF16PS's sum in its order (the odd products, then the even ones, each exact in fp32 and added with one rounding):
// two FMAs on the halves widened by a shift and a mask. Only its denormal flushing differs.
static inline __m512 dot_bf16(__m512 acc, __m512i a, __m512i b)
{
    __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    acc = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(a, high)), _mm512_castsi512_ps(_mm512_and_si512(b, high)), acc);
    return _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(a, 16)), _mm512_castsi512_ps(_mm512_slli_epi32(b, 16)), acc);
}
#endif
static inline void store_bf16(uint16_t *p, __m512 x) { _mm256_storeu_si256((__m256i *)p, round_bf16(x)); }
// x rounded to bf16 and widened back: the value a bf16 intermediate holds (where libtorch rounds between two ops).
static inline __m512 rounded(__m512 x) { return widen_bf16(round_bf16(x)); }
static inline __m512 negate(__m512 x) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))); }
// Output `at` of a product: v into y (bf16), or widened into y32 (fp32) when that is given.
static inline void put(uint16_t *y, float *y32, long at, uint16_t v)
{
    if (!y32)
    {
        y[at] = v;
        return;
    }
    uint32_t bits = (uint32_t)v << 16;
    memcpy(y32 + at, &bits, sizeof bits);
}
// Lane t = t · stride: the offsets of a gather over 16 rows `stride` elements apart.
static inline __m512i strided(int stride) { return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(stride)); }

// What a tile prefetches while it computes (see tile below).
enum { NONE, AHEAD_ROWS, NEXT_ROWS };

// y[i0 + b, r + a] for a < rows, b < inputs: R weight rows (a short last pass repeats its last row, computed but not
// stored) against `inputs` input rows, each weight load serving every input.
// AHEAD_ROWS: prefetch each row AHEAD elements on. With several inputs a pass computes long enough per weight byte that
// the hardware prefetcher alone leaves DRAM idle for part of it. Measured over all llama3-1b layers and its lm_head,
// 2 threads, best of 6 (-march=native): 8 inputs 92.6 → 81.7 ms, 4 inputs 72.9 → 61.9 ms; one input (bound by the
// stream alone) 51.2 → 51.3 ms, so it does not ask.
// NEXT_ROWS: stream in the next pass's R rows (`next`, NULL unless that pass is a full one of this chunk) whole, so
// that pass's first tile finds them in cache. In the VDPBF16PS build the second tile of a 6-row pass does it (i0 =
// INPUTS: inputs 4–7, computing on rows already in cache, so DRAM would idle); same measure, all variants alternating
// in one process, best of 9 on a noisy host: 6 inputs 72.7 → 64.3 ms, 8 inputs 75.4 → 67.8 and 83.2 → 75.6 ms, 12
// inputs 94.0 → 91.7 ms; 1 and 4 inputs (one tile) unchanged. Spreading that stream over both tiles was no better.
// `y32`: when not NULL the outputs go there as fp32 instead of to y, each still rounded to bf16 first (exactly the
// values a bf16 output widened afterwards would hold), so that fp32 logits need no second pass over a bf16 copy.
// Each output's sum runs over k in order whatever the tile's shape, so the shapes below give the same bits.
static inline __attribute__((always_inline)) void tile(
    const uint16_t *w, const uint16_t *x, uint16_t *y, float *y32, int in, int out, int r, int rows, int i0, const int R,
    const int inputs, int prefetch, const uint16_t *next)
{
    __m512 acc[ROWS][WIDE_INPUTS];
    const uint16_t *wr[ROWS];
    for (int a = 0; a < R; a++)
    {
        wr[a] = w + (long)(r + (a < rows ? a : rows - 1)) * in;
        for (int b = 0; b < inputs; b++) acc[a][b] = _mm512_setzero_ps();
    }
    for (int k = 0; k < in; k += 32)
    {
        __m512i wv[ROWS];
        for (int a = 0; a < R; a++) wv[a] = _mm512_loadu_si512(wr[a] + k);
        if (prefetch == AHEAD_ROWS)
            for (int a = 0; a < R; a++) _mm_prefetch((const char *)(wr[a] + k + AHEAD), _MM_HINT_T0);
        else if (prefetch == NEXT_ROWS && next)
            for (int a = 0; a < R; a++) _mm_prefetch((const char *)(next + (long)a * in + k), _MM_HINT_T0);
        for (int b = 0; b < inputs; b++)
        {
            __m512i xv = _mm512_loadu_si512(x + (long)(i0 + b) * in + k);
            for (int a = 0; a < R; a++) acc[a][b] = dot_bf16(acc[a][b], wv[a], xv);
        }
    }
    for (int a = 0; a < rows; a++)
        for (int b = 0; b < inputs; b++) put(y, y32, (long)(i0 + b) * out + r + a, to_bf16(_mm512_reduce_add_ps(acc[a][b])));
}

#ifndef __AVX512BF16__
// 8 or more inputs where dot_bf16 is emulated: passes of WIDE_ROWS rows, each weight row read once for 8 inputs, the
// first tile of a pass streaming in the next pass's rows. The 6 × 4 tiles below (two tiles for 8 inputs, the second
// on rows in cache) left DRAM idle during the second tile and their arithmetic idle during the first: measured on a
// 2-core Xeon without AVX512-BF16, 8 inputs, weights cycling through memory, 2048 → 8192 1.80–1.87 → 1.41–1.51 ms,
// 8192 → 2048 1.81–1.84 → 1.39–1.67 ms (without the next rows' stream, 2.11–2.13 and 1.51–1.94).
static void linear_wide(const uint16_t *w, const uint16_t *x, uint16_t *y, float *y32, int n, int in, int out, int first, int last)
{
    for (int r = first; r < last; r += WIDE_ROWS)
    {
        int rows = last - r < WIDE_ROWS ? last - r : WIDE_ROWS;
        const uint16_t *next = r + 2 * WIDE_ROWS <= last ? w + (long)(r + WIDE_ROWS) * in : NULL;
        int i = 0;
        for (; i + WIDE_INPUTS <= n; i += WIDE_INPUTS)
            tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, WIDE_INPUTS, i == 0 ? NEXT_ROWS : NONE, next);
        switch (n - i) // constant tile sizes, so each unrolls into registers; these find the rows in cache
        {
        case 7: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 7, NONE, next); break;
        case 6: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 6, NONE, next); break;
        case 5: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 5, NONE, next); break;
        case 4: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 4, NONE, next); break;
        case 3: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 3, NONE, next); break;
        case 2: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 2, NONE, next); break;
        case 1: tile(w, x, y, y32, in, out, r, rows, i, WIDE_ROWS, 1, NONE, next); break;
        default: break;
        }
    }
}
#endif

static void linear(const uint16_t *w, const uint16_t *x, uint16_t *y, float *y32, int n, int in, int out, int first, int last)
{
#ifndef __AVX512BF16__
    if (n >= WIDE_INPUTS)
    {
        linear_wide(w, x, y, y32, n, in, out, first, last);
        return;
    }
#endif
    for (int r = first; r < last; r += ROWS)
    {
        int rows = last - r < ROWS ? last - r : ROWS;
        const uint16_t *next = r + 2 * ROWS <= last ? w + (long)(r + ROWS) * in : NULL;
        int i = 0;
        for (; i + INPUTS <= n; i += INPUTS)
            tile(w, x, y, y32, in, out, r, rows, i, ROWS, INPUTS, i == 0 ? AHEAD_ROWS : i == INPUTS ? NEXT_ROWS : NONE, next);
        int mode = i == 0 ? AHEAD_ROWS : i == INPUTS ? NEXT_ROWS : NONE; // one input alone is bound by its stream: no AHEAD
        switch (n - i) // constant tile sizes, so each unrolls into registers; later passes find the rows in cache
        {
        case 3: tile(w, x, y, y32, in, out, r, rows, i, ROWS, 3, mode, next); break;
        case 2: tile(w, x, y, y32, in, out, r, rows, i, ROWS, 2, mode, next); break;
        case 1: tile(w, x, y, y32, in, out, r, rows, i, ROWS, 1, mode == AHEAD_ROWS ? NONE : mode, next); break;
        default: break;
        }
    }
}

/// y [n, out] rows first ≤ j < last = x [n, in] · w [out, in]ᵀ, all bf16, `in` a multiple of 32.
void eagle_linear_bf16(const uint16_t *w, const uint16_t *x, uint16_t *y, int n, int in, int out, int first, int last)
{
    linear(w, x, y, NULL, n, in, out, first, last);
}

/// The same product with y fp32 [n, out]: each output rounded to bf16 as above, then stored widened (the logits, which
/// decoding reads in fp32: one pass instead of a bf16 product and a conversion of it).
void eagle_linear_bf16_f32(const uint16_t *w, const uint16_t *x, float *y, int n, int in, int out, int first, int last)
{
    linear(w, x, NULL, y, n, in, out, first, last);
}

// ---------------------------------------------------------------------------------------------------------------------
// The many-row bf16 linear (a prefill, a large batch) on CPUs without AVX512-BF16 (Llama/CpuLinearKernel.cs).
//
// Why: with many input rows a product is bound by arithmetic, and the few-row loop above, where each product needs its
// weight and input widened from bf16 (shifts and masks on the FMA ports) and its 24 accumulators leave no room for
// the widened halves (objdump shows it spilling), ran at ~103 G products/s on 2 cores of a Xeon whose FMA peak is 176
// (measured with a register-only loop). This is a GEMM in the shape of the classic AVX-512 kernels: the inputs packed
// once into fp32 panels of 32 rows, column-major ([in][32]: one 64-byte pair of vectors per column), the weights widened
// into fp32 a block at a time, and a micro-tile of 12 weight rows × 32 inputs kept in 24 accumulators, each step one
// pair of input loads, 12 broadcast weights and 24 FMAs: no widening in the inner loop, which alone runs at 98 % of the
// peak. Measured on that Xeon, 2 threads, one product of the llama3-1b shape (2048 → 8192): 128 rows 20.7 → 14.8 ms
// (145 G products/s), 512 rows 83.5 → 56.0 ms (153), where MKL's SGEMM on the weights widened to fp32 did worse.
// Each output is the fp32 sum over the columns in order, rounded to bf16 once (nearest even, NaN kept quiet), like the
// few-row loop except for the order of the sum.

// A thread's scratch of at least `need` floats, 64-byte aligned, grown (contents dropped) when smaller; 0 when it cannot be.
static int reserve(float **buffer, long *capacity, long need)
{
    if (need <= *capacity) return 1;
    float *grown = (float *)_mm_malloc((size_t)need * sizeof(float), 64);
    if (!grown) return 0;
    _mm_free(*buffer);
    *buffer = grown;
    *capacity = need;
    return 1;
}

#define PANEL 32      // input rows per panel: two 16-lane vectors
#define PANEL_TILE 12 // weight rows per micro-tile: 12 × 2 accumulators + the 2 input vectors = 26 of 32 registers
#define PANEL_KC 256  // columns per pass: a micro-tile's 12 widened weight slices (12 KB) stay in L1 across the panels
#define PANEL_MC 96   // weight rows per group: widened a pass at a time (~100 KB, L2) and used for every input panel
#define PANEL_WS (PANEL_KC + 16) // the stride of a widened slice: +64 bytes so that the 12 rows fall in different L1 sets

/// Packs 16-row halves first ≤ h < last of x [n, in] bf16 into xt [⌈n/32⌉][in][32] fp32 (half h: rows 16h …
/// 16h + 15, lanes (h % 2)·16 …), rows past n as zeros. Each gather of 16 dwords reads columns k and k + 1 of 16 rows.
void eagle_pack_panels(const uint16_t *x, float *xt, int n, int in, int first, int last)
{
    __m512i rows = strided(in);
    __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int h = first; h < last; h++)
    {
        int row = h * 16, count = n - row > 16 ? 16 : n - row;
        __mmask16 live = count > 0 ? (__mmask16)((1u << count) - 1u) : 0;
        const uint16_t *base = x + (long)(count > 0 ? row : 0) * in;
        float *to = xt + (long)(h / 2) * in * PANEL + (h % 2) * 16;
        for (int k = 0; k < in; k += 2)
        {
            __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, rows, base + k, 2);
            _mm512_store_ps(to + (long)k * PANEL, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
            _mm512_store_ps(to + (long)(k + 1) * PANEL, _mm512_castsi512_ps(_mm512_and_si512(v, high)));
        }
    }
}

// c [12][32] (+)= the panel's columns k0 … k0 + kc − 1 against 12 widened weight slices (rows PANEL_WS apart), for
// `vectors` (1 or 2, constant once inlined) 16-row halves of the panel.
static inline __attribute__((always_inline)) void panel_tile(const float *xt, const float *w, float *c, int kc, int first, const int vectors)
{
    __m512 acc[PANEL_TILE][2];
    for (int j = 0; j < PANEL_TILE; j++)
        for (int v = 0; v < vectors; v++)
            acc[j][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(c + j * PANEL + v * 16);
    for (int k = 0; k < kc; k++)
    {
        __m512 x0 = _mm512_load_ps(xt + (long)k * PANEL), x1 = vectors > 1 ? _mm512_load_ps(xt + (long)k * PANEL + 16) : x0;
        for (int j = 0; j < PANEL_TILE; j++)
        {
            __m512 b = _mm512_set1_ps(w[j * PANEL_WS + k]);
            acc[j][0] = _mm512_fmadd_ps(x0, b, acc[j][0]);
            if (vectors > 1) acc[j][1] = _mm512_fmadd_ps(x1, b, acc[j][1]);
        }
    }
    for (int j = 0; j < PANEL_TILE; j++)
        for (int v = 0; v < vectors; v++) _mm512_store_ps(c + j * PANEL + v * 16, acc[j][v]);
}

static __thread float *panel_weights; // PANEL_MC widened slices
static __thread long panel_weights_capacity;
static __thread float *panel_sums;    // [panels][PANEL_MC][32]
static __thread long panel_sums_capacity;

/// y [n, out] rows first ≤ j < last = x · w [out, in]ᵀ from xt, x packed by eagle_pack_panels; bf16 outputs, or with
/// y32 (y NULL) fp32 ones, each rounded to bf16 first. `in` a multiple of 32. Returns 0, or −1 when its scratch cannot
/// be allocated.
int eagle_linear_bf16_panels(const uint16_t *w, const float *xt, uint16_t *y, float *y32, int n, int in, int out, int first, int last)
{
    int panels = (n + PANEL - 1) / PANEL;
    long need = (long)panels * PANEL_MC * PANEL;
    if (!reserve(&panel_weights, &panel_weights_capacity, (long)PANEL_MC * PANEL_WS) || !reserve(&panel_sums, &panel_sums_capacity, need))
        return -1;
    // The last panel is half empty when n % 32 is 1 … 16: its tiles then compute one vector.
    int half = n % PANEL != 0 && n % PANEL <= 16;
    __m512i lanes = strided(PANEL);
    for (int g = first; g < last; g += PANEL_MC)
    {
        int rows = last - g < PANEL_MC ? last - g : PANEL_MC, tiles = (rows + PANEL_TILE - 1) / PANEL_TILE;
        for (int k0 = 0; k0 < in; k0 += PANEL_KC)
        {
            int kc = in - k0 < PANEL_KC ? in - k0 : PANEL_KC;
            // Widen this pass's slices (a short last tile repeats the group's last row: computed, never stored).
            for (int j = 0; j < tiles * PANEL_TILE; j++)
            {
                const uint16_t *from = w + (long)(g + (j < rows ? j : rows - 1)) * in + k0;
                for (int k = 0; k < kc; k += 16) _mm512_store_ps(panel_weights + j * PANEL_WS + k, load_bf16(from + k));
            }
            for (int t = 0; t < tiles; t++)
                for (int p = 0; p < panels; p++)
                {
                    const float *xp = xt + ((long)p * in + k0) * PANEL;
                    float *c = panel_sums + ((long)p * PANEL_MC + t * PANEL_TILE) * PANEL;
                    if (half && p == panels - 1) panel_tile(xp, panel_weights + t * PANEL_TILE * PANEL_WS, c, kc, k0 == 0, 1);
                    else panel_tile(xp, panel_weights + t * PANEL_TILE * PANEL_WS, c, kc, k0 == 0, 2);
                }
        }
        // Out: input row i's outputs g … g + rows − 1 are sums[i / 32][j][i % 32], 16 at a time by a gather.
        for (int i = 0; i < n; i++)
        {
            const float *c = panel_sums + (long)(i / PANEL) * PANEL_MC * PANEL + i % PANEL;
            long at = (long)i * out + g;
            int j = 0;
            for (; j + 16 <= rows; j += 16)
            {
                __m256i v = round_bf16(_mm512_i32gather_ps(lanes, c + j * PANEL, 4));
                if (y32) _mm512_storeu_ps(y32 + at + j, widen_bf16(v));
                else _mm256_storeu_si256((__m256i *)(y + at + j), v);
            }
            for (; j < rows; j++) put(y, y32, at + j, to_bf16(c[j * PANEL]));
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// Decode attention: a few new tokens per sequence (one for a decode step; a verify tree or a draft level with its own
// mask), over its whole cache, for a batch of sequences in one call.
//
// Why native: libtorch's scaled_dot_product_attention for one bf16 query over 2,000 cached positions took 0.70 ms a
// layer here (about 11 ms of a llama3-1b step), a 4-token verify with its mask over 2,000 positions made the forward
// 14 ms slower than over 64 (1.57 vs 1.34 one-token steps), and a batch of B sessions costs B × ~12 small libtorch
// calls a layer (cache writes, views, the attention) at 10–15 µs each. This does a layer's whole batch in one call: it
// writes each sequence's new K/V into its cache, then, per (sequence, KV head) and new token, the scores of the query
// heads that share that KV head (VDPBF16PS dot products, exact bf16 products summed in fp32) over the keys the token's
// mask row allows (all of them without a mask: a single new token sees its whole prefix), a softmax in fp32, and the
// weighted sum of V in fp32, rounded to bf16 once. Keys are scored for every new token and query head while they are
// in L1, and each value row is widened once for a few output rows: measured over 16 llama3-1b layers (8 KV heads of
// 4 query heads, D 64) on one thread, against the earlier order (per token and query head, all keys): one token after
// 2,000 positions 4.19 → 3.08 ms, 4 tokens 14.2 → 10.8 ms, 8 tokens 25.8 → 21.6 ms, with bit-identical outputs.

/// One sequence of the batch: its cache's key and value storage for this layer ([kvHeads, capacity, D] bf16), the
/// number of positions already committed there (the new tokens go at `length` on), its first token's row in the batch
/// and its number of new tokens, and its mask: NULL for one token (everything visible), else bool [count, length +
/// count] (1 = attend) with rows `mask_stride` bytes apart.
typedef struct
{
    uint16_t *k;
    uint16_t *v;
    int32_t length;
    int32_t capacity;
    int32_t token;
    int32_t count;
    const uint8_t *mask;
    int64_t mask_stride;
} eagle_sequence;

// e^x (x clamped to [−87, 88], where fp32 neither underflows to denormals nor overflows): 2^(x·log2 e) split into
// 2^k · 2^f, f in [−½, ½], 2^f by its degree-6 Taylor series (relative error ~1e-7, far below a bf16 rounding).
static inline __m512 exp_ps(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
    __m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, k);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

#define MAX_GROUP 16  // query heads per KV head (DecodeAttention.Eligible checks the same limits)
#define MAX_DIM 256   // head dimension
#define MAX_TOKENS 64 // new tokens per sequence (DecodeAttention.MaxTokens)

// The 16 horizontal sums of a[0..15], as one vector (lane t = the sum of a[t]'s lanes): pairs summed within 128-bit
// lanes (32-bit, then 64-bit interleaves), then the four 128-bit lanes of each group of four keys.
static inline __m512 sum16(const __m512 a[16])
{
    __m512 p[8], v[4];
    for (int t = 0; t < 8; t++) p[t] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * t], a[2 * t + 1]), _mm512_unpackhi_ps(a[2 * t], a[2 * t + 1]));
    for (int t = 0; t < 4; t++)
    {
        __m512d x = _mm512_castps_pd(p[2 * t]), y = _mm512_castps_pd(p[2 * t + 1]);
        v[t] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    // v[t]: keys 4t..4t+3 in each 128-bit lane, summed over that lane's 4 slices
    __m512 x0 = _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(v[0], v[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 x1 = _mm512_add_ps(_mm512_shuffle_f32x4(v[2], v[3], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(v[2], v[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 1, 3, 1)));
}

// For `count` probability rows p[q] (q < count, each over keys j < length): o[q][0..16·chunks) = bf16(inverse[q] ·
// Σ_j p[q][j] · values[j]), values bf16 rows of 16·chunks. Each value row is loaded and widened once for all `count`
// rows (a KV head's query heads, and the tokens of a tree): one pass over V per `count` rows rather than one per row.
// Inlined with constant chunk and row counts so the count × chunks accumulators stay in registers.
static inline __attribute__((always_inline)) void weighted_sum(
    const uint16_t *values, const float *const *p, int length, const float *inverse, uint16_t *const *o, const int chunks,
    const int count)
{
    __m512 acc[4][MAX_DIM / 16];
    for (int q = 0; q < count; q++)
        for (int c = 0; c < chunks; c++) acc[q][c] = _mm512_setzero_ps();
    for (int j = 0; j < length; j++)
    {
        const uint16_t *value = values + (long)j * chunks * 16;
        __m512 v[MAX_DIM / 16];
        for (int c = 0; c < chunks; c++)
            v[c] = load_bf16(value + c * 16);
        for (int q = 0; q < count; q++)
        {
            __m512 w = _mm512_set1_ps(p[q][j]);
            for (int c = 0; c < chunks; c++) acc[q][c] = _mm512_fmadd_ps(w, v[c], acc[q][c]);
        }
    }
    float lanes[16];
    for (int q = 0; q < count; q++)
        for (int c = 0; c < chunks; c++)
        {
            _mm512_storeu_ps(lanes, _mm512_mul_ps(acc[q][c], _mm512_set1_ps(inverse[q])));
            for (int e = 0; e < 16; e++) o[q][c * 16 + e] = to_bf16(lanes[e]);
        }
}

static __thread float *scores_buffer;
static __thread long scores_capacity;

/// Work items first ≤ w < last of the sequences × kvHeads: item w is sequence w / kvHeads, KV head w % kvHeads. For
/// the batch's n tokens, qk [heads + kvHeads, n, D]: the rotated queries then the rotated new keys; qkv [n, heads +
/// 2·kvHeads, D]: the projection output, whose last kvHeads heads are the new values; out [n, heads, D], of which the
/// sequences' token rows are written. D a multiple of 32, at most
/// MAX_DIM; heads / kvHeads at most MAX_GROUP. Returns 0, or −1 when the scratch for the scores cannot be allocated.
int eagle_decode_attention_bf16(const uint16_t *qk, const uint16_t *qkv, uint16_t *out, const eagle_sequence *seqs,
                                int n, int heads, int kvHeads, int d, float scale, int first, int last)
{
    int group = heads / kvHeads;
    for (int w = first; w < last; w++)
    {
        int g = w % kvHeads;
        const eagle_sequence *s = &seqs[w / kvHeads];
        int length = s->length + s->count; // keys after the writes
        uint16_t *keys = s->k + (long)g * s->capacity * d, *values = s->v + (long)g * s->capacity * d;
        for (int t = 0; t < s->count; t++)
        {
            int i = s->token + t;
            memcpy(keys + (long)(s->length + t) * d, qk + ((long)(heads + g) * n + i) * d, (size_t)d * 2);
            memcpy(values + (long)(s->length + t) * d, qkv + ((long)i * (heads + 2 * kvHeads) + heads + kvHeads + g) * d, (size_t)d * 2);
        }

        long stride = (length + 15) & ~15;
        long need = (long)s->count * group * stride;
        if (!reserve(&scores_buffer, &scores_capacity, need)) return -1;

        // Scores, 16 keys at a time, for every new token and query head while those keys are in L1: 16 dot-product
        // accumulators, then one transposing sum of them into the 16 scores (a horizontal sum per key would cost more
        // than its two dot-product steps). Keys the token's mask row hides, and padding lanes past `length`, score −∞.
        // Row q = t·group + r of the scores holds token t's query head r.
        int rows = s->count * group;
        float inverses[MAX_TOKENS * MAX_GROUP];
        const float *probabilities[MAX_TOKENS * MAX_GROUP];
        uint16_t *outputs[MAX_TOKENS * MAX_GROUP];
        __m512 factor = _mm512_set1_ps(scale), hidden = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < length; j += 16)
        {
            __mmask16 inRange = j + 16 <= length ? 0xFFFF : (__mmask16)((1u << (length - j)) - 1u);
            for (int t = 0; t < s->count; t++)
            {
                __mmask16 in = inRange;
                if (s->mask)
                {
                    __m512i bytes = _mm512_maskz_loadu_epi8((__mmask64)inRange, s->mask + (long)t * s->mask_stride + j); // only the lanes in range are read
                    in = (__mmask16)_mm512_test_epi8_mask(bytes, bytes);
                }
                const uint16_t *q = qk + ((long)(g * group) * n + s->token + t) * d; // query head g·group + r at q + r·n·d
                for (int r = 0; r < group; r++)
                {
                    const uint16_t *qr = q + (long)r * n * d;
                    __m512 a[16];
                    for (int u = 0; u < 16; u++)
                    {
                        const uint16_t *key = keys + (long)(j + u < length ? j + u : length - 1) * d; // past the end: any key, masked below
                        __m512 acc = _mm512_setzero_ps();
                        for (int c = 0; c < d; c += 32)
                            acc = dot_bf16(acc, _mm512_loadu_si512(qr + c), _mm512_loadu_si512(key + c));
                        a[u] = acc;
                    }
                    _mm512_store_ps(scores_buffer + (long)(t * group + r) * stride + j, _mm512_mask_blend_ps(in, hidden, _mm512_mul_ps(sum16(a), factor)));
                }
            }
        }

        // Softmax per row, in fp32; lanes at −∞ (hidden or padding) are left out of the max and the sum.
        for (int q = 0; q < rows; q++)
        {
            float *row = scores_buffer + (long)q * stride;                 // lanes past `length` were stored as −∞
            __m512 m = hidden;
            for (int j = 0; j < stride; j += 16) m = _mm512_max_ps(m, _mm512_load_ps(row + j));
            __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(m)), sum = _mm512_setzero_ps();
            for (int j = 0; j < stride; j += 16)
            {
                __m512 x = _mm512_load_ps(row + j);
                __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, hidden, _CMP_NEQ_UQ), exp_ps(_mm512_sub_ps(x, max)));
                _mm512_store_ps(row + j, e);
                sum = _mm512_add_ps(sum, e);
            }
            inverses[q] = 1.0f / _mm512_reduce_add_ps(sum);
            probabilities[q] = row;
            outputs[q] = out + ((long)(s->token + q / group) * heads + g * group + q % group) * d;
        }

        // Output: Σ_j p_j · V_j per row, in fp32 registers, rounded to bf16 once; rows taken a few at a time so that
        // each value row is read once per few rows (as many as the registers hold beside the widened row).
        int q = 0;
        switch (d)
        {
        case 32: for (; q + 4 <= rows; q += 4) weighted_sum(values, probabilities + q, length, inverses + q, outputs + q, 2, 4); break;
        case 64: for (; q + 4 <= rows; q += 4) weighted_sum(values, probabilities + q, length, inverses + q, outputs + q, 4, 4); break;
        case 128: for (; q + 2 <= rows; q += 2) weighted_sum(values, probabilities + q, length, inverses + q, outputs + q, 8, 2); break;
        default: break;
        }
        for (; q < rows; q++) weighted_sum(values, probabilities + q, length, inverses + q, outputs + q, d / 16, 1);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// The small ops of a decoder layer, for the few rows of a decode step, a verify tree or a draft level (Llama/NativeOps.cs).
//
// Why: each is a handful of libtorch calls on a [n, 2048] bf16 tensor, and each call costs ~10 µs of dispatch, allocation
// and marshalling for ~1 µs of arithmetic. A llama3-1b decode step made ~35 of them per layer, during which the kernel's
// second thread only waited (2–3 ms of a 55 ms step, measured). Each function below is one call, on the calling thread, and
// rounds where libtorch rounds (every bf16 op computes in fp32 and rounds its result to bf16, nearest even), so RoPE
// and the residual add give libtorch's bits, and the norm and silu·up do too except where their sum of squares or e^x
// differs from libtorch's in the last fp32 bits, which moves a bf16 result by one step at most, and rarely.

/// LLaMA's RMSNorm of `rows` rows of `size` (a multiple of 16): y = bf16(bf16(x · 1/sqrt(mean(x²) + eps)) · w), the
/// statistics in fp32. With `delta`, the row normalized is first the residual sum bf16(x + delta), stored at `sum`.
void eagle_rmsnorm_bf16(const uint16_t *x, const uint16_t *delta, uint16_t *sum, const uint16_t *w, uint16_t *y,
                        int rows, int size, float eps)
{
    for (int r = 0; r < rows; r++)
    {
        const uint16_t *xr = x + (long)r * size;
        if (delta)
        {
            uint16_t *sr = sum + (long)r * size;
            for (int c = 0; c < size; c += 16) store_bf16(sr + c, _mm512_add_ps(load_bf16(xr + c), load_bf16(delta + (long)r * size + c)));
            xr = sr;
        }
        __m512 squares = _mm512_setzero_ps();
        for (int c = 0; c < size; c += 16)
        {
            __m512 v = load_bf16(xr + c);
            squares = _mm512_add_ps(squares, _mm512_mul_ps(v, v));
        }
        float inverse = 1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(_mm512_reduce_add_ps(squares) / (float)size + eps))); // no libm
        __m512 factor = _mm512_set1_ps(inverse);
        uint16_t *yr = y + (long)r * size;
        for (int c = 0; c < size; c += 16)
        {
            __m512 normed = rounded(_mm512_mul_ps(load_bf16(xr + c), factor));
            store_bf16(yr + c, _mm512_mul_ps(normed, load_bf16(w + c)));
        }
    }
}

/// Rotary embedding (rotate-half) of the query and key heads of the fused projection qkv [n, (heads + 2·kvHeads)·d],
/// written as qk [heads + kvHeads, n, d], the layout the attention reads: bf16(bf16(x · cos) + bf16(rot(x) · sin)),
/// rot(x) = (−x₂, x₁) over the halves of a head, cos and sin [n, d] bf16; d a multiple of 32.
void eagle_rope_bf16(const uint16_t *qkv, const uint16_t *cos, const uint16_t *sin, uint16_t *qk, int n, int heads, int kvHeads, int d)
{
    int half = d / 2, width = (heads + 2 * kvHeads) * d;
    for (int h = 0; h < heads + kvHeads; h++)
        for (int i = 0; i < n; i++)
        {
            const uint16_t *x = qkv + (long)i * width + (long)h * d, *c = cos + (long)i * d, *s = sin + (long)i * d;
            uint16_t *o = qk + ((long)h * n + i) * d;
            for (int e = 0; e < half; e += 16)
            {
                __m512 x1 = load_bf16(x + e), x2 = load_bf16(x + half + e);
                __m512 a1 = rounded(_mm512_mul_ps(x1, load_bf16(c + e)));
                __m512 b1 = rounded(_mm512_mul_ps(negate(x2), load_bf16(s + e)));
                __m512 a2 = rounded(_mm512_mul_ps(x2, load_bf16(c + half + e)));
                __m512 b2 = rounded(_mm512_mul_ps(x1, load_bf16(s + half + e)));
                store_bf16(o + e, _mm512_add_ps(a1, b1));
                store_bf16(o + half + e, _mm512_add_ps(a2, b2));
            }
        }
}

/// SwiGLU's gate: h [n, inter] = bf16(bf16(silu(g)) · u) for each row [g | u] of gu [n, 2·inter] (the fused gate/up
/// product), silu(g) = g / (1 + e^−g) in fp32; inter a multiple of 16.
void eagle_silu_mul_bf16(const uint16_t *gu, uint16_t *h, int n, int inter)
{
    __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i++)
    {
        const uint16_t *g = gu + (long)i * 2 * inter, *u = g + inter;
        for (int e = 0; e < inter; e += 16)
        {
            __m512 x = load_bf16(g + e);
            __m512 silu = rounded(_mm512_div_ps(x, _mm512_add_ps(one, exp_ps(negate(x)))));
            store_bf16(h + (long)i * inter + e, _mm512_mul_ps(silu, load_bf16(u + e)));
        }
    }
}
