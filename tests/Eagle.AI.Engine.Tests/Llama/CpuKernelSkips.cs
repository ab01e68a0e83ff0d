using Eagle.AI.Engine.Llama;

namespace Eagle.AI.Engine.Tests.Llama;

// xunit needs a Fact and a Theory attribute of its own for each skip condition; the conditions live here once.
internal static class CpuKernelSkips
{
    /// <summary>Why a test of the managed AVX-512 loop cannot run here (null = it can).</summary>
    public static string? Avx512 => CpuLinearKernel.IsSupported ? null : "this CPU has no AVX-512F/BW";

    /// <summary>Why a test of the native bf16 code cannot run here (null = it can).</summary>
    public static string? NativeBf16 =>
        CpuLinearKernel.NativeBf16Available ? null : "no AVX-512 on this CPU, or libeagle_cpu was not built";
}

/// <summary>A theory that needs the AVX-512 kernel; skipped (not passed) on CPUs without it.</summary>
internal sealed class Avx512TheoryAttribute : TheoryAttribute
{
    public Avx512TheoryAttribute() => Skip = CpuKernelSkips.Avx512;
}

/// <summary>A theory that needs the native bf16 code; skipped (not passed) where it cannot run.</summary>
internal sealed class NativeBf16TheoryAttribute : TheoryAttribute
{
    public NativeBf16TheoryAttribute() => Skip = CpuKernelSkips.NativeBf16;
}

/// <summary>A fact that needs the native bf16 code; skipped (not passed) where it cannot run.</summary>
internal sealed class NativeBf16FactAttribute : FactAttribute
{
    public NativeBf16FactAttribute() => Skip = CpuKernelSkips.NativeBf16;
}

/// <summary>A fact that needs the AVX-512 kernel; skipped (not passed) on CPUs without it.</summary>
internal sealed class Avx512FactAttribute : FactAttribute
{
    public Avx512FactAttribute() => Skip = CpuKernelSkips.Avx512;
}
