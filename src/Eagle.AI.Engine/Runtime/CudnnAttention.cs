using System.Runtime.InteropServices;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Turns libtorch's cuDNN attention backend off, so that <c>scaled_dot_product_attention</c> on CUDA runs flash
/// attention (no mask) or memory-efficient attention (with a mask) instead.
/// </summary>
/// <remarks>
/// On an H200 with PyTorch 2.11 + CUDA 13, libtorch left to choose picks cuDNN attention for every call the engine
/// makes, and spends ~40 ms on each shape it has not seen (a PyTorch microbenchmark there: 40–45 ms a call with a new
/// number of key positions, 0.03–0.08 ms with a repeated one; cuDNN selected explicitly, and the flash and
/// memory-efficient kernels, cost no more for a new shape). Decoding never repeats a shape: a step attends over one more
/// position than the last, and each draft level and verify tree has a shape of its own. Measured there: a greedy token
/// 27.5–31 ms in a fresh generation against 12.9 ms when the same positions were replayed, a 60-token draft round
/// 351 ms (12 ms with cuDNN off). TorchSharp 0.107 exposes only the flash and math switches, so this calls libtorch's
/// own (<c>at::globalContext().setSDPUseCuDNN(false)</c>) by its exported name in the already loaded
/// <c>libtorch_cpu.so</c>, and reads the setting back (<c>userEnabledCuDNNSDP()</c>) to confirm it took.
/// <c>EAGLE_CUDNN_ATTENTION=1</c> leaves cuDNN on, for comparisons. docs/performance.md has the numbers.
/// </remarks>
internal static unsafe class CudnnAttention
{
    /// <summary>Environment variable that keeps the cuDNN backend on when set to 1.</summary>
    public const string KeepVariable = "EAGLE_CUDNN_ATTENTION";

    private static readonly Lock Gate = new();
    private static string? outcome;

    /// <summary>What happened, once: "off", or why it is on (kept by the variable, or libtorch lacks the switch).</summary>
    public static string Disable()
    {
        lock (Gate)
        {
            return outcome ??= Apply();
        }
    }

    private static string Apply()
    {
        if (Environment.GetEnvironmentVariable(KeepVariable) == "1") return $"on ({KeepVariable}=1)";
        if (!OperatingSystem.IsLinux()) return "on (the switch is looked up on Linux only)";
        const int RtldNow = 2, RtldNoLoad = 4;
        nint lib = DlOpen("libtorch_cpu.so", RtldNow | RtldNoLoad);                 // the copy already loaded, never a new one
        if (lib == 0) return "on (libtorch_cpu.so is not loaded)";
        if (!NativeLibrary.TryGetExport(lib, "_ZN2at13globalContextEv", out var global)
            || !NativeLibrary.TryGetExport(lib, "_ZN2at7Context14setSDPUseCuDNNEb", out var set)
            || !NativeLibrary.TryGetExport(lib, "_ZNK2at7Context19userEnabledCuDNNSDPEv", out var get))
            return "on (this libtorch has no setSDPUseCuDNN)";
        nint context = ((delegate* unmanaged<nint>)global)();
        ((delegate* unmanaged<nint, byte, void>)set)(context, 0);
        return ((delegate* unmanaged<nint, byte>)get)(context) == 0 ? "off" : "on (the switch did not take)";
    }

    [DllImport("libc", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPStr)] string name, int flags);
}
