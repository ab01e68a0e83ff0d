using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// The one place a bias-free linear is applied (projections, the fused q/k/v and gate/up GEMMs, the lm_head). A few
/// rows on the CPU go to <see cref="CpuLinearKernel"/>, which reads each weight once at memory speed; everything else
/// (CUDA, more rows than <see cref="MaxRows"/> — 11, or for bf16 64 with the native loop or where the CPU has no bf16
/// instructions, any number with both — where oneDNN's GEMM amortizes its weight re-layout, anything needing autograd, other dtypes,
/// non-contiguous or odd shapes) stays on <c>nn.functional.linear</c>, a bf16 one through fp32 where libtorch would
/// emulate bf16 (<see cref="EmulatedBf16"/>).
/// </summary>
internal static class LinearDispatch
{
    /// <summary>
    /// Most input rows the managed loop takes: one token, a drafting step, a small verify, a small batch of sessions.
    /// Measured on llama3-1b bf16, 2 cores, kernel vs libtorch in one process (best of 4, three alternating rounds):
    /// 8 rows 152–169 vs 182–196 ms, 12 rows 193–221 vs 188–218 ms, 16 rows 236–269 vs 216–234 ms. Past ~12 rows the
    /// kernel is bound by its fp32 FMAs while oneDNN's GEMM amortizes its weight re-layout.
    /// </summary>
    public const int MaxKernelRows = 11;

    /// <summary>
    /// Most input rows the native bf16 loop (VDPBF16PS) takes. Measured as the verify-cost curve of llama3-1b bf16 on 2
    /// cores (× a one-token forward), the loop vs libtorch past 11 rows: 16 tokens 2.1 vs 3.2, 32 tokens 3.4 vs 4.8, 64
    /// tokens 6.0–6.1 vs 6.8–7.1; beyond that oneDNN's GEMM, whose weight re-layout is then amortized, is left the
    /// prefill. The native loop's AVX-512F build and the managed loop take as many bf16 rows where libtorch's bf16 is
    /// emulated (a 2-core Xeon without bf16 instructions, llama3-1b: 16 tokens 2.3 × a one-token step natively, 2.6 managed,
    /// 8.6 through oneDNN).
    /// </summary>
    public const int MaxNativeRows = 64;

    /// <summary>
    /// The most rows the kernel takes for this weight's dtype: for bf16 any number with the native library where the
    /// CPU has no bf16 instructions (from <see cref="CpuLinearKernel.MinPanelRows"/> rows on, its panel GEMM, which beats
    /// both the loop and MKL's SGEMM on the weights widened to fp32: a 512-row 2048 → 8192 product on a 2-core Xeon took
    /// 55.7 ms against 82.9 through the loop, where the widened fp32 route had been 1.17× faster than the loop at 512
    /// rows), <see cref="MaxNativeRows"/> with the native loop elsewhere or with the managed loop on
    /// such a CPU (where libtorch's bf16 GEMM is emulated); else <see cref="MaxKernelRows"/>.
    /// </summary>
    public static int MaxRows(ScalarType dtype) =>
        dtype != ScalarType.BFloat16 ? MaxKernelRows
        : PanelGemm ? int.MaxValue
        : CpuLinearKernel.NativeBf16 || EmulatedBf16 ? MaxNativeRows
        : MaxKernelRows;

    /// <summary>
    /// Whether bf16 products of <see cref="CpuLinearKernel.MinPanelRows"/> rows and more go to the native panel GEMM:
    /// the native library is in use and the CPU has no bf16 instructions. The kernel then takes every bf16 product, so
    /// libtorch keeps one thread through a prefill (see <see cref="OnTorchThreads"/> and <c>NativeOps.MaxRows</c>).
    /// </summary>
    public static bool PanelGemm => CpuLinearKernel.NativeBf16 && EmulatedBf16;

    /// <summary>
    /// Whether libtorch's bf16 GEMM is emulated here (the CPU has no bf16 instructions), so that bf16 products take the
    /// kernel up to <see cref="MaxRows"/> and go through fp32 beyond; settable so tests can take both routes.
    /// </summary>
    public static bool EmulatedBf16 { get; set; } = !CpuFeatures.HasNativeBFloat16;

    [ThreadStatic]
    private static bool torchLowered; // this thread set libtorch's intra-op threads to 1 for the kernel
    private static int kernelThreads = 1;

    /// <summary>
    /// Whether the CPU kernel may be used (default: on where the CPU has AVX-512, unless the environment variable
    /// <c>EAGLE_CPU_KERNELS=0</c>); settable so comparisons and tests can run both ways in one process.
    /// </summary>
    public static bool CpuKernels { get; set; } =
        CpuLinearKernel.IsSupported && Environment.GetEnvironmentVariable("EAGLE_CPU_KERNELS") != "0";

    /// <summary>x [.., in] · weight [out, in]ᵀ → [.., out], as <c>nn.functional.linear(x, weight)</c>.</summary>
    public static Tensor Apply(Tensor x, Tensor weight)
    {
        if (weight.device_type != DeviceType.CPU) return nn.functional.linear(x, weight); // the GPU path, untouched
        if (CpuKernels && Fits(x, weight)) return CpuLinearKernel.Linear(x, weight, OwnThreads());
        ReturnThreads();
        if (WidenedForGemm(x, weight)) return WidenedLinear(x, weight);
        return nn.functional.linear(x, weight);
    }

    /// <summary>
    /// <see cref="Apply"/> with the result in fp32 (the logits): where the kernel takes a bf16 product (either loop) it writes
    /// fp32 directly — the same values, rounded to bf16 and widened, without a bf16 result and a conversion pass over it
    /// (with 8 rows of a 128,256-token vocabulary, 4 MB written and read again a step) — else the result is converted.
    /// </summary>
    public static Tensor ApplyFloat32(Tensor x, Tensor weight)
    {
        if (weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.BFloat16 && CpuKernels && Fits(x, weight))
            return CpuLinearKernel.Linear(x, weight, OwnThreads(), float32: true);
        return Apply(x, weight).to(ScalarType.Float32);                        // the bf16 product is the caller's scope's
    }

    /// <summary>
    /// Whether a bf16 product too big for the kernel (a prefill) goes through fp32: on a CPU without bf16 instructions
    /// libtorch's bf16 GEMM is emulated. Measured on a 2-core Xeon without them, a 512-token llama3-1b prefill took
    /// 17.0 s through it, 9.4 s through the kernel in blocks of 64 inputs, 4.1 s for the fp32 model (MKL's SGEMM at
    /// ~90 % of the FMA peak), and 4.9 s this way: widening the weights costs less than that difference once a product
    /// has more rows than the kernel takes.
    /// </summary>
    private static bool WidenedForGemm(Tensor x, Tensor weight) =>
        weight.dtype == ScalarType.BFloat16 && x.dtype == ScalarType.BFloat16 && EmulatedBf16 &&
        x.device_type == DeviceType.CPU && !x.requires_grad && !weight.requires_grad;

    // x · Wᵀ with both widened to fp32 (exactly: a bf16 is the top half of an fp32), summed in fp32 and rounded to bf16
    // once, which is what a bf16 GEMM computes; the widened weight is freed at once rather than at the caller's scope.
    private static Tensor WidenedLinear(Tensor x, Tensor weight)
    {
        using var wide = weight.to(ScalarType.Float32);
        using var input = x.to(ScalarType.Float32);
        using var product = nn.functional.linear(input, wide);
        return product.to(ScalarType.BFloat16);
    }

    /// <summary>Whether <see cref="CpuLinearKernel"/> takes this product (see the class summary for what does not).</summary>
    public static bool Fits(Tensor x, Tensor weight)
    {
        if (x.device_type != DeviceType.CPU || weight.Dimensions != 2 || x.Dimensions < 1) return false;
        if (x.dtype != weight.dtype || x.dtype is not (ScalarType.BFloat16 or ScalarType.Float32)) return false;
        if (x.requires_grad || weight.requires_grad) return false; // training needs libtorch's autograd
        long inF = weight.shape[1];
        if (x.shape[^1] != inF || inF % CpuLinearKernel.Block != 0 || weight.shape[0] is 0 or > int.MaxValue / 8) return false;
        long n = x.NumberOfElements / inF;
        return n >= 1 && n <= MaxRows(weight.dtype) && x.is_contiguous() && weight.is_contiguous();
    }

    // The kernel and libtorch must not fight for the cores: beside libtorch's spinning OpenMP threads a two-thread
    // kernel step went from 75 ms to 160–200 ms on 2 cores. So while this thread runs few-row forwards the kernel owns
    // the parallelism (its pool gets the thread count libtorch had) and libtorch's small ops (norms, RoPE, attention over
    // one token) run on this thread alone; the count is given back to libtorch at its next big product (a prefill).
    internal static int OwnThreads()
    {
        int t = get_num_threads();
        if (t > 1)
        {
            kernelThreads = t;
            set_num_threads(1);
            torchLowered = true;
        }
        return kernelThreads;
    }

    /// <summary>
    /// Runs a big libtorch op (a prefill chunk's attention) on the threads the kernel holds, then takes them back: where
    /// the kernel takes every product (bf16 on a CPU without bf16 instructions) libtorch would otherwise never get them
    /// back. Measured on a 2-core Xeon without them, a 2,000-token llama3-1b prefill: 18.6–19.2 s with its attention on
    /// one thread, 16.4–16.9 s on two.
    /// </summary>
    internal static T OnTorchThreads<T>(Func<T> op)
    {
        if (!torchLowered) return op();
        set_num_threads(kernelThreads);
        try
        {
            return op();
        }
        finally
        {
            set_num_threads(1);
        }
    }

    /// <summary>Gives libtorch back the threads the kernel took, if it took them (before a product libtorch computes).</summary>
    internal static void ReturnThreads()
    {
        if (!torchLowered) return;
        set_num_threads(kernelThreads);
        torchLowered = false;
    }
}
