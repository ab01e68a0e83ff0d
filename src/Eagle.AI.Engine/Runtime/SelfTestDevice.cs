using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>The first rows of a self-test: which device and runtime the checks run on, and whether CUDA is there.</summary>
internal static class SelfTestDevice
{
    /// <summary>
    /// Resolves <paramref name="spec"/> (see <see cref="TorchRuntime.ParseDevice"/>) and describes it: CUDA availability
    /// (a failure when CUDA was asked for and is missing), the GPU models the NVIDIA driver lists, and where libtorch came
    /// from. <see cref="Device"/> is null when the device cannot be used.
    /// </summary>
    public static (IReadOnlyList<SelfTestResult> Rows, Device? Device) Describe(string spec)
    {
        TorchRuntime.EnsureInitialized();
        var rows = new List<SelfTestResult>();
        bool wantCuda = spec.Trim().StartsWith("cuda", StringComparison.OrdinalIgnoreCase);
        bool available = cuda.is_available();
        string cudaText = available ? $"yes, {cuda.device_count()} device(s)" : "no";
        rows.Add(new SelfTestResult("cuda available", wantCuda ? (available ? SelfTestOutcome.Pass : SelfTestOutcome.Fail) : SelfTestOutcome.Info,
            cudaText, wantCuda ? "required for --device cuda" : ""));
        if (available || wantCuda)
            rows.Add(new SelfTestResult("gpu", SelfTestOutcome.Info, GpuModels()));
        rows.Add(new SelfTestResult("libtorch", SelfTestOutcome.Info,
            TorchRuntime.PreloadedFrom is { } dir ? $"{TorchRuntime.LibTorchDirVariable}={dir}" : "packaged with the application"));

        Device? device = null;
        try
        {
            device = TorchRuntime.ParseDevice(spec);
            rows.Add(new SelfTestResult("device", SelfTestOutcome.Info, device.type == DeviceType.CPU ? "cpu (no GPU checks)" : device.ToString()));
            if (device.type == DeviceType.CUDA)
                rows.Add(new SelfTestResult("cudnn attention", SelfTestOutcome.Info, CudnnAttention.Disable()));
        }
        catch (Exception e) when (e is TorchRuntimeException or ArgumentException)
        {
            rows.Add(SelfTestResult.Error("device", e));
        }
        return (rows, device);
    }

    // TorchSharp 0.107 has no get_device_name; the NVIDIA driver lists each GPU's model under /proc. The listing is in
    // PCI order, which need not be CUDA's order, so all models are named.
    private static string GpuModels()
    {
        const string root = "/proc/driver/nvidia/gpus";
        if (!Directory.Exists(root)) return $"model unknown ({root} not found)";
        var models = Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .Select(d => Path.Combine(d, "information"))
            .Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Where(l => l.StartsWith("Model:", StringComparison.Ordinal))
            .Select(l => l["Model:".Length..].Trim())
            .ToList();
        return models.Count == 0 ? "model unknown" : string.Join("; ", models);
    }
}
