using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Runtime;

/// <summary>
/// The cuDNN attention switch is reached through libtorch's exported C++ names; the CPU libtorch exports the same
/// <c>at::Context</c>, so the call and its read-back run here too (the setting only matters on CUDA).
/// </summary>
public class CudnnAttentionTests
{
    [Fact]
    public void The_switch_is_found_in_the_loaded_libtorch_and_reads_back_off()
    {
        TorchRuntime.EnsureInitialized();
        Assert.Null(Environment.GetEnvironmentVariable(CudnnAttention.KeepVariable));
        Assert.Equal("off", CudnnAttention.Disable());
        Assert.Equal("off", CudnnAttention.Disable());                  // once per process; later calls report it

        // attention on the CPU is unaffected: the same values as the explicit softmax(q kᵀ/√d) v
        var g = new Generator(3);
        var q = randn([1, 2, 3, 8], generator: g);
        var k = randn([1, 2, 5, 8], generator: g);
        var v = randn([1, 2, 5, 8], generator: g);
        var expected = q.matmul(k.transpose(-2, -1)).Times(1 / Math.Sqrt(8.0)).softmax(-1).matmul(v);
        Assert.True(nn.functional.scaled_dot_product_attention(q, k, v).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }
}
