using Eagle.AI.Engine.Llama;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>The native libtorch could not be loaded or the requested device is not available; the message says how to fix it.</summary>
public sealed class TorchRuntimeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Loads the native runtime once, before the first tensor: optionally preloading a PyTorch installation's libtorch from
/// <c>EAGLE_LIBTORCH_DIR</c> by absolute path (TorchSharp itself only searches the app folder and the loader path), and
/// turning TorchSharp's long load trace into one actionable error.
/// </summary>
public static class TorchRuntime
{
    /// <summary>Environment variable naming a libtorch folder (e.g. <c>site-packages/torch/lib</c>) to use instead of the packaged one.</summary>
    public const string LibTorchDirVariable = "EAGLE_LIBTORCH_DIR";

    private static readonly Lock Gate = new();
    private static bool initialized;

    /// <summary>The libtorch folder preloaded from <see cref="LibTorchDirVariable"/>, if any.</summary>
    public static string? PreloadedFrom { get; private set; }

    /// <summary>Loads the runtime; safe to call many times.</summary>
    /// <exception cref="TorchRuntimeException">The native library cannot load.</exception>
    public static void EnsureInitialized()
    {
        lock (Gate)
        {
            if (initialized) return;
            PreferPassiveOpenMpWaits();
            string? dir = Environment.GetEnvironmentVariable(LibTorchDirVariable);
            if (!string.IsNullOrWhiteSpace(dir)) Preload(dir);
            try
            {
                using var probe = ones(1);
                _ = probe.sum().item<float>();
            }
            catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException)
            {
                throw new TorchRuntimeException(NativeLoadMessage(e), e);
            }
            initialized = true;
        }
    }

    // libtorch's OpenMP threads spin after each parallel region (a prefill, a verify of 8+ tokens, a draft beam), and on a
    // CPU where the AVX-512 linear kernel decodes with threads of its own they take a core from it: measured on 2
    // cores, a speculative bench process decoded plain steps at 97 ms/token with spinning OpenMP threads and 68 ms with
    // passive ones, prefill unchanged. OpenMP reads the policy when libtorch loads, from the native environment (which
    // .NET's Environment.SetEnvironmentVariable does not change on Unix), so it is set there, unless the user set it.
    private static void PreferPassiveOpenMpWaits()
    {
        const string name = "OMP_WAIT_POLICY";
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(name) is not null) return;
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported || Environment.GetEnvironmentVariable("EAGLE_CPU_KERNELS") == "0") return;
        if (SetEnv(name, "PASSIVE", 0) == 0) Environment.SetEnvironmentVariable(name, "PASSIVE");
    }

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPStr)] string name, [MarshalAs(UnmanagedType.LPStr)] string value, int overwrite);

    private static void Preload(string dir)
    {
        if (!Path.IsPathRooted(dir) || !Directory.Exists(dir))
            throw new TorchRuntimeException($"{LibTorchDirVariable}='{dir}' is not an existing absolute folder (expected PyTorch's torch/lib)");
        if (!File.Exists(Path.Combine(dir, "libtorch.so")))
            throw new TorchRuntimeException($"{LibTorchDirVariable}='{dir}' has no libtorch.so (expected PyTorch's torch/lib)");
        // Two libtorch builds in one process abort it: refuse while the app ships its own beside it.
        string[] bundled = [Path.Combine(AppContext.BaseDirectory, "libtorch.so"), Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libtorch.so")];
        if (bundled.FirstOrDefault(File.Exists) is { } own && !Path.GetDirectoryName(own)!.Equals(Path.GetFullPath(dir).TrimEnd('/'), StringComparison.Ordinal))
            throw new TorchRuntimeException($"{LibTorchDirVariable} is set but this application ships its own libtorch ({own}); " +
                "build or publish it with -p:EagleTorchBackend=none (tools/gpu/publish.sh does) to use an external libtorch");
        // Dependencies first, so each dlopen finds the ones before it already loaded by soname.
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
        {
            string path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            try
            {
                NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e)
            {
                throw new TorchRuntimeException($"{LibTorchDirVariable}: cannot load {path}: {e.Message} " +
                    "(for CUDA wheels, add site-packages/nvidia/*/lib to LD_LIBRARY_PATH)", e);
            }
        }
        PreloadedFrom = dir;
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    /// <summary>
    /// One line for an application whose native libtorch did not load: what to add to it (a libtorch package or
    /// <see cref="LibTorchDirVariable"/>), and the first line of the cause (TorchSharp's own message lists every path it
    /// probed; the exception keeps it as its inner exception).
    /// </summary>
    internal static string NativeLoadMessage(Exception e)
    {
        string cause = Innermost(e).Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        if (cause.Length > 200) cause = cause[..200] + "…";
        string glibcxx = cause.Contains("GLIBCXX", StringComparison.Ordinal)
            ? " This system's libstdc++ is older than libLibTorchSharp.so wants: reference Eagle.AI.Engine as a package (its build targets patch the copy in your output) or use a newer distribution."
            : "";
        return "TorchSharp could not load its native libtorch: add a libtorch package to the application (libtorch-cpu-linux-x64 for the CPU, " +
               $"TorchSharp-cuda-linux for NVIDIA GPUs) or set {LibTorchDirVariable} to a PyTorch installation's torch/lib folder.{glibcxx} Cause: {cause}";
    }

    /// <summary>Whether two devices are the same (<see cref="Device"/> compares by reference; index −1 and 0 alike).</summary>
    internal static bool SameDevice(Device a, Device b) =>
        a.type == b.type && Math.Max(a.index, 0) == Math.Max(b.index, 0);

    /// <summary>
    /// Parses <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. <c>auto</c> is CUDA when available, else CPU.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown spelling.</exception>
    /// <exception cref="TorchRuntimeException">CUDA asked for but not available, with how to get it.</exception>
    public static Device ParseDevice(string spec)
    {
        EnsureInitialized();
        string s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return CPU;
        if (s == "auto") return cuda.is_available() ? Cuda(0) : CPU;
        if (s == "cuda" || s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (s.Length > 4 && !int.TryParse(s.AsSpan(5), out index))
                throw new ArgumentException($"device '{spec}': expected cuda:N with N a GPU index", nameof(spec));
            if (!cuda.is_available())
                throw new TorchRuntimeException(
                    $"device '{spec}' requested but CUDA is not available: reference TorchSharp-cuda-linux in the application " +
                    $"(instead of libtorch-cpu-linux-x64) or set {LibTorchDirVariable} to a CUDA PyTorch's torch/lib, and check the " +
                    "NVIDIA driver (nvidia-smi); this repository's apps build that way with -p:EagleTorchBackend=cuda");
            int count = cuda.device_count();
            if (index < 0 || index >= count)
                throw new ArgumentException($"device '{spec}': there are {count} CUDA devices (0..{count - 1})", nameof(spec));
            return Cuda(index);
        }
        throw new ArgumentException($"device '{spec}': expected auto, cpu, cuda or cuda:N", nameof(spec));
    }

    // Every CUDA device the engine is given comes through here: attention there must not build a cuDNN plan per shape.
    private static Device Cuda(int index)
    {
        CudnnAttention.Disable();
        return device(DeviceType.CUDA, index);
    }

    /// <summary>
    /// Parses <c>auto</c> (<see cref="AutoDType"/>), <c>float32</c>/<c>fp32</c>, <c>bfloat16</c>/<c>bf16</c>, <c>float16</c>/<c>fp16</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown spelling.</exception>
    public static ScalarType ParseDType(string spec, Device device) =>
        IsAuto(spec) ? AutoDType(device)
        : NamedDType(spec) ?? throw new ArgumentException($"dtype '{spec}': expected auto, float32, bfloat16 or float16", nameof(spec));

    /// <summary>Whether <paramref name="spec"/> is a dtype <see cref="ParseDType"/> takes; loads no runtime.</summary>
    internal static bool IsDTypeSpelling(string? spec) => spec is not null && (IsAuto(spec) || NamedDType(spec) is not null);

    /// <summary>
    /// Whether <paramref name="spec"/> is spelled as <see cref="ParseDevice"/> takes it (auto, cpu, cuda or cuda:N, any case,
    /// surrounding spaces ignored); it loads no runtime and asks no hardware, so options can be checked before anything loads.
    /// </summary>
    internal static bool IsDeviceSpelling(string? spec)
    {
        string s = spec?.Trim().ToLowerInvariant() ?? "";
        return s is "auto" or "cpu" or "cuda" || (s.StartsWith("cuda:", StringComparison.Ordinal) && s.Length > 5 && s.AsSpan(5).IndexOfAnyExceptInRange('0', '9') < 0);
    }

    private static ScalarType? NamedDType(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "float" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        _ => null,
    };

    /// <summary>Whether a device or dtype option says <c>auto</c> (any case, surrounding spaces ignored).</summary>
    internal static bool IsAuto(string? spec) => spec is not null && spec.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The dtype <c>auto</c> picks: fp16 on CUDA; on a CPU bf16 where it computes bf16 natively
    /// (<see cref="CpuFeatures.HasNativeBFloat16"/>) or where the engine's AVX-512 kernel takes the few-row products
    /// (<see cref="LinearDispatch.CpuKernels"/>), else fp32 (fp16 on a CPU is emulated and slow). Without bf16
    /// instructions the kernel still reads bf16 weights, half fp32's bytes, and widens them to multiply, and bigger
    /// products multiply in fp32 (<see cref="LinearDispatch.PanelGemm"/>, or MKL without the native library:
    /// <see cref="LinearDispatch.EmulatedBf16"/>). Measured on a 2-core Xeon with AVX-512 and no bf16 instructions,
    /// llama3-1b: vanilla decode 9.9 tokens/s in bf16 against 5.7 in fp32, speculative at acceptance 0.8 16.8 against
    /// 8.5; a 512-token prefill through MKL 4.9 s against the fp32 model's 4.1 (one 512-row product: the panel GEMM 1.49×
    /// the few-row loop, MKL on widened weights 1.17×).
    /// </summary>
    public static ScalarType AutoDType(Device device) =>
        device.type == DeviceType.CUDA ? ScalarType.Float16 : CpuAutoDType(CpuFeatures.HasNativeBFloat16, LinearDispatch.CpuKernels).DType;

    /// <summary>Why <see cref="AutoDType"/> chose what it chose, for the load log.</summary>
    internal static string AutoDTypeReason(Device device) =>
        device.type == DeviceType.CUDA ? "fp16 on CUDA" : CpuAutoDType(CpuFeatures.HasNativeBFloat16, LinearDispatch.CpuKernels).Reason;

    /// <summary>The CPU's <c>auto</c> dtype, and why, from whether it has bf16 instructions and the AVX-512 kernel is in use.</summary>
    internal static (ScalarType DType, string Reason) CpuAutoDType(bool nativeBFloat16, bool avx512Kernel) =>
        nativeBFloat16 ? (ScalarType.BFloat16, "bf16: the CPU has bf16 dot-product instructions (avx512_bf16/amx_bf16)")
        : avx512Kernel ? (ScalarType.BFloat16, "bf16: the CPU has AVX-512, on which the engine's kernel reads bf16 weights (half fp32's bytes) and widens them to multiply; without bf16 instructions (avx512_bf16/amx_bf16) products of many rows (a prefill) multiply the widened values in fp32")
        : (ScalarType.Float32, "fp32: the CPU has neither bf16 instructions (avx512_bf16/amx_bf16) nor the engine's AVX-512 kernel");

    /// <summary>The safetensors / config spelling of a dtype.</summary>
    public static string Name(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => t.ToString().ToLowerInvariant(),
    };
}
