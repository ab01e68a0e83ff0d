using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Runtime;

/// <summary>
/// <c>DType auto</c> on a CPU: bf16 where the CPU multiplies bf16 natively (read from its feature flags) or where the
/// engine's AVX-512 kernel takes the few-row products; else fp32.
/// </summary>
public class AutoDTypeTests
{
    private const string EpycLike = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu\n";
    private const string Avx2Only = "processor\t: 0\nflags\t\t: fpu sse avx avx2 fma\n";

    [Fact]
    public void The_first_processors_flags_decide_native_bf16()
    {
        var flags = CpuFeatures.Parse(EpycLike);
        Assert.Contains("avx512_bf16", flags);
        Assert.True(CpuFeatures.HasNativeBFloat16In(flags));
        Assert.True(CpuFeatures.HasNativeBFloat16In(CpuFeatures.Parse("flags : amx_bf16 amx_tile\n")));
        Assert.False(CpuFeatures.HasNativeBFloat16In(CpuFeatures.Parse(Avx2Only)));
        Assert.Empty(CpuFeatures.Parse(null));
        Assert.Empty(CpuFeatures.Parse("processor : 0\n"));
    }

    [Fact]
    public void Without_bf16_instructions_auto_picks_bf16_only_where_the_avx512_kernel_is_in_use()
    {
        Assert.Equal(ScalarType.BFloat16, TorchRuntime.CpuAutoDType(nativeBFloat16: true, avx512Kernel: false).DType);
        Assert.Equal(ScalarType.BFloat16, TorchRuntime.CpuAutoDType(nativeBFloat16: true, avx512Kernel: true).DType);
        var kernel = TorchRuntime.CpuAutoDType(nativeBFloat16: false, avx512Kernel: true);
        Assert.Equal(ScalarType.BFloat16, kernel.DType);
        Assert.Contains("AVX-512", kernel.Reason);
        var neither = TorchRuntime.CpuAutoDType(nativeBFloat16: false, avx512Kernel: false);
        Assert.Equal(ScalarType.Float32, neither.DType);
        Assert.StartsWith("fp32", neither.Reason);
    }

    [Fact]
    public void Auto_on_this_cpu_follows_its_flags_and_explicit_dtypes_are_kept()
    {
        var expected = CpuFeatures.HasNativeBFloat16 || LinearDispatch.CpuKernels ? ScalarType.BFloat16 : ScalarType.Float32;
        Assert.Equal(expected, TorchRuntime.ParseDType("auto", CPU));
        Assert.Equal(expected, TorchRuntime.ParseDType(" AUTO ", CPU));
        Assert.StartsWith(expected == ScalarType.BFloat16 ? "bf16" : "fp32", TorchRuntime.AutoDTypeReason(CPU));
        Assert.Equal(ScalarType.Float32, TorchRuntime.ParseDType("float32", CPU));
        Assert.True(TorchRuntime.IsAuto(" Auto"));
        Assert.False(TorchRuntime.IsAuto("cpu"));
        Assert.False(TorchRuntime.IsAuto(null));
    }
}
