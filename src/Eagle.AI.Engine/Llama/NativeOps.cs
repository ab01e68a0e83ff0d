using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// A decoder layer's small ops — RMSNorm (with the residual add before it), RoPE into the attention's layout, and
/// SwiGLU's silu·up — each as one native call on the CPU in bf16 (<c>Native/eagle_cpu.c</c>). Why: each is a handful
/// of libtorch calls costing ~10 µs apiece of dispatch, allocation and marshalling for ~1 µs of arithmetic; a llama3-1b
/// decode step made ~35 a layer, while the CPU kernel's second thread only waited. Measured in one process, 8 runs of
/// 48 tokens each way alternating (llama3-1b bf16, 2 threads): 56.5 → 54.4 ms a token at best, 58.8 → 56.0 median. The C
/// side rounds where libtorch rounds, so RoPE and the residual add are bit-identical to libtorch and RMSNorm and
/// silu·up are within one bf16 step (their fp32 sum of squares and e^x may differ in the last bits). Each method
/// returns null where it does not apply (not CPU bf16, not contiguous, autograd, an unsupported width, more than
/// <see cref="MaxRows"/> rows, or the native library is absent); the caller then runs libtorch's ops.
/// </summary>
internal static unsafe class NativeOps
{
    /// <summary>
    /// Whether the native ops run where they apply (default: with the native bf16 kernel, unless
    /// <c>EAGLE_NATIVE_OPS=0</c>); settable so tests and comparisons can run both in one process.
    /// </summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("EAGLE_NATIVE_OPS") != "0";

    [DllImport(CpuLinearKernel.NativeLibraryName)]
    private static extern void eagle_rmsnorm_bf16(ushort* x, ushort* delta, ushort* sum, ushort* w, ushort* y, int rows, int size, float eps);

    [DllImport(CpuLinearKernel.NativeLibraryName)]
    private static extern void eagle_rope_bf16(ushort* qkv, ushort* cos, ushort* sin, ushort* qk, int n, int heads, int kvHeads, int d);

    [DllImport(CpuLinearKernel.NativeLibraryName)]
    private static extern void eagle_silu_mul_bf16(ushort* gu, ushort* h, int n, int inter);

    /// <summary>
    /// Most rows the native ops take: as many as the native linear (<see cref="LinearDispatch.MaxNativeRows"/>), past
    /// which a prefill chunk's ops are big enough that libtorch's calls cost nothing extra, and run on all its threads
    /// rather than on the calling one — except where the kernel takes every bf16 product (a CPU without bf16
    /// instructions, <see cref="LinearDispatch.PanelGemm"/>): libtorch then stays on one thread through a prefill, and
    /// the native ops' one pass beats its several, so they take any count. Measured on a 2-core Xeon of that kind
    /// (llama3-1b, 8 prompts of 16 tokens prefilled together, alternating): first tokens after 1,014 and 1,017 ms against
    /// 1,034 and 1,092.
    /// </summary>
    public static int MaxRows => LinearDispatch.PanelGemm ? int.MaxValue : LinearDispatch.MaxNativeRows;

    private static bool On => Enabled && CpuLinearKernel.NativeBf16;

    private static bool FewRows(Tensor t, long width) => t.NumberOfElements / width <= MaxRows;

    private static bool Fits(Tensor t) =>
        t.device_type == DeviceType.CPU && t.dtype == ScalarType.BFloat16 && !t.requires_grad && t.is_contiguous();

    private static ushort* Data(Tensor t) => (ushort*)CpuLinearKernel.Data(t);

    /// <summary>
    /// RMSNorm of x [.., H] by <paramref name="weight"/> [H]; with <paramref name="delta"/>, of x + delta, whose sum
    /// comes back too (the residual stream). Null where it does not apply.
    /// </summary>
    public static (Tensor Normed, Tensor? Sum)? RmsNorm(Tensor x, Tensor? delta, Tensor weight, float eps)
    {
        long size = weight.NumberOfElements;
        if (!On || !Fits(x) || !Fits(weight) || x.Dimensions < 1 || x.shape[^1] != size || size % 16 != 0 || x.NumberOfElements == 0 || !FewRows(x, size)) return null;
        if (delta is not null && (!Fits(delta) || !delta.shape.SequenceEqual(x.shape))) return null;
        var y = empty(x.shape, ScalarType.BFloat16);
        var sum = delta is null ? null : empty(x.shape, ScalarType.BFloat16);
        eagle_rmsnorm_bf16(Data(x), delta is null ? null : Data(delta), sum is null ? null : Data(sum), Data(weight), Data(y),
            (int)(x.NumberOfElements / size), (int)size, eps);
        return (y, sum);
    }

    /// <summary>
    /// The rotated query and key heads of the fused projection [1, n, (heads + 2·kvHeads)·D] with cos/sin [n, D], as
    /// [1, heads + kvHeads, n, D] contiguous (what <see cref="RotaryEmbedding.Apply"/> gives for those heads); null
    /// where it does not apply.
    /// </summary>
    public static Tensor? Rope(Tensor projected, Tensor cos, Tensor sin, int heads, int kvHeads, int headDim)
    {
        if (!On || !Fits(projected) || !Fits(cos) || !Fits(sin) || headDim % 32 != 0 || projected.Dimensions != 3) return null;
        long n = projected.shape[1];
        if (projected.shape[0] != 1 || projected.shape[2] != (long)(heads + 2 * kvHeads) * headDim || n == 0 || n > MaxRows) return null;
        if (cos.Dimensions != 2 || cos.shape[0] != n || cos.shape[1] != headDim || !cos.shape.SequenceEqual(sin.shape)) return null;
        var qk = empty([1, heads + kvHeads, n, headDim], ScalarType.BFloat16);
        eagle_rope_bf16(Data(projected), Data(cos), Data(sin), Data(qk), (int)n, heads, kvHeads, headDim);
        return qk;
    }

    /// <summary>silu(gate) · up for the fused gate/up product [.., 2I] → [.., I]; null where it does not apply.</summary>
    public static Tensor? SiluMul(Tensor gateUp)
    {
        if (!On || !Fits(gateUp) || gateUp.Dimensions < 1 || gateUp.shape[^1] % 32 != 0 || gateUp.NumberOfElements == 0 || !FewRows(gateUp, gateUp.shape[^1])) return null;
        long inter = gateUp.shape[^1] / 2;
        long[] shape = [.. gateUp.shape[..^1], inter];
        var h = empty(shape, ScalarType.BFloat16);
        eagle_silu_mul_bf16(Data(gateUp), Data(h), (int)(gateUp.NumberOfElements / (2 * inter)), (int)inter);
        return h;
    }
}
