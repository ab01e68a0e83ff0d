using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// The one place a bias-free linear is applied (projections, the fused q/k/v and gate/up GEMMs, the lm_head). A few
/// rows on the CPU go to <see cref="CpuLinearKernel"/>, which reads each weight once at memory speed; everything else
/// (CUDA, more rows than <see cref="MaxRows"/> — 11, or 64 for bf16 with the native loop — where oneDNN's GEMM
/// amortizes its weight re-layout, anything needing autograd, other dtypes,
/// non-contiguous or odd shapes) stays on <c>nn.functional.linear</c>.
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
    /// prefill.
    /// </summary>
    public const int MaxNativeRows = 64;

    /// <summary>The most rows the kernel takes for this weight's dtype with the loop in use.</summary>
    public static int MaxRows(ScalarType dtype) =>
        dtype == ScalarType.BFloat16 && CpuLinearKernel.NativeBf16 ? MaxNativeRows : MaxKernelRows;

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
        return nn.functional.linear(x, weight);
    }

    /// <summary>
    /// <see cref="Apply"/> with the result in fp32 (the logits): where the native bf16 loop takes the product it writes
    /// fp32 directly — the same values, rounded to bf16 and widened, without a bf16 result and a conversion pass over it
    /// (with 8 rows of a 128,256-token vocabulary, 4 MB written and read again a step) — else the result is converted.
    /// </summary>
    public static Tensor ApplyFloat32(Tensor x, Tensor weight)
    {
        if (weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.BFloat16 && CpuLinearKernel.NativeBf16 && CpuKernels && Fits(x, weight))
            return CpuLinearKernel.Linear(x, weight, OwnThreads(), float32: true);
        return Apply(x, weight).to(ScalarType.Float32);                        // the bf16 product is the caller's scope's
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

    private static void ReturnThreads()
    {
        if (!torchLowered) return;
        set_num_threads(kernelThreads);
        torchLowered = false;
    }
}
