namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// What this CPU computes natively, read once from the kernel's feature flags (Linux <c>/proc/cpuinfo</c>; other
/// systems report nothing). bf16 halves the bytes a decode step reads, and on a CPU with AVX512-BF16 or AMX-BF16
/// oneDNN multiplies it natively: measured on an AMD EPYC with AVX512-BF16, the llama3-1b shape decodes 5.9 tokens/s
/// in bf16 against 3.9 in fp32, and an 8-token verify costs 1.16× a one-token step instead of 3.1×. Without those
/// instructions libtorch emulates bf16 and is slower than fp32, so the engine's kernels widen bf16 themselves
/// (<see cref="Llama.LinearDispatch.EmulatedBf16"/>).
/// </summary>
internal static class CpuFeatures
{
    private static readonly Lazy<IReadOnlySet<string>> Flags = new(() => Parse(TryRead("/proc/cpuinfo")));

    /// <summary>Whether the CPU has bf16 dot-product instructions (avx512_bf16 or amx_bf16).</summary>
    public static bool HasNativeBFloat16 => HasNativeBFloat16In(Flags.Value);

    /// <summary>Whether the CPU has AVX512-BF16's dot product (VDPBF16PS), which the native bf16 kernel uses.</summary>
    public static bool HasAvx512BFloat16 => Flags.Value.Contains("avx512_bf16");

    /// <summary>The flags <paramref name="cpuinfo"/> (the text of <c>/proc/cpuinfo</c>) lists for its first processor.</summary>
    public static IReadOnlySet<string> Parse(string? cpuinfo)
    {
        var line = cpuinfo?.Split('\n').FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        if (line is null || line.IndexOf(':', StringComparison.Ordinal) is var colon && colon < 0) return new HashSet<string>();
        return line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Whether <paramref name="flags"/> include bf16 dot-product instructions.</summary>
    public static bool HasNativeBFloat16In(IReadOnlySet<string> flags) =>
        flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");

    private static string? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
