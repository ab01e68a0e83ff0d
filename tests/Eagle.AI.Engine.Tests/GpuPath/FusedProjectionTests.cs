using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.GpuPath;

/// <summary>
/// q/k/v and gate/up run as one GEMM each over a shared storage of which the per-projection parameters are row slices.
/// (Fusion is always on, so ReferenceAgreementTests check the fused model against the float64 reference; these tests
/// check the fused path against the per-projection path and that the weights are stored once.)
/// </summary>
public class FusedProjectionTests
{
    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Fused_and_per_projection_paths_give_the_same_prefill_and_decode(string name)
    {
        using var model = TestModels.Create(name, seed: 3);
        Assert.True(model.FusedProjections);
        var fused = Run(model);
        model.FusedProjections = false;
        var plain = Run(model);
        model.FusedProjections = true;
        for (int i = 0; i < fused.Count; i++)
            TensorAssert.Close(fused[i], plain[i], 1e-5, $"output {i}");
    }

    // Prefill of 7 tokens with every layer captured, then 3 one-token decode steps (the mask-free path).
    private static List<double[][]> Run(LlamaForCausalLM model)
    {
        using var noGrad = no_grad();
        using var cache = model.NewCache(16);
        var all = Enumerable.Range(0, model.Config.NumHiddenLayers).ToArray();
        var results = new List<double[][]>();
        using (var ids = tensor(new long[] { 3, 9, 4, 17, 5, 22, 8 }))
        using (var pos = HeldScalars.Range(0, 7))
        using (var o = model.Forward(ids, pos, cache, null, new ForwardRequest(CaptureLayers: all)))
        {
            results.Add(TensorAssert.Rows(o.Logits));
            results.Add(TensorAssert.Rows(o.Captured!));
        }
        for (int step = 0; step < 3; step++)
        {
            using var ids = tensor(new long[] { 11 + step });
            using var pos = tensor(new long[] { 7 + step });
            using var o = model.Forward(ids, pos, cache, null, ForwardRequest.AllLogits);
            results.Add(TensorAssert.Rows(o.Logits));
        }
        return results;
    }

    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Projection_weights_are_row_slices_of_one_storage_and_counted_once(string name)
    {
        using var model = TestModels.Create(name);
        var c = model.Config;
        long h = c.HiddenSize, d = c.HeadDim, i = c.IntermediateSize, q = c.NumAttentionHeads * d, kv = c.NumKeyValueHeads * d;
        foreach (var layer in model.model.layers)
        {
            var a = layer.self_attn;
            Assert.Equal(0, a.q_proj.weight.storage_offset());
            Assert.Equal(q * h, a.k_proj.weight.storage_offset());
            Assert.Equal((q + kv) * h, a.v_proj.weight.storage_offset());
            Assert.Equal(0, layer.mlp.gate_proj.weight.storage_offset());
            Assert.Equal(i * h, layer.mlp.up_proj.weight.storage_offset());
        }
        long perLayer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h;
        long expected = c.VocabSize * h * (c.TieWordEmbeddings ? 1 : 2) + c.NumHiddenLayers * perLayer + h;
        Assert.Equal(expected, model.ParameterCount);
        Assert.Equal(expected * 4, model.WeightBytes);
        Assert.Equal(expected, model.state_dict().Sum(kv2 => kv2.Value.NumberOfElements));
    }

    [Fact]
    public void A_checkpoint_loads_into_the_shared_storage()
    {
        using var dir = new Cli.TempDir();
        using var original = TestModels.Create("B", seed: 4);
        LlamaCheckpoint.Save(original, dir.Path);
        using var loaded = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU);
        var expected = Run(original);
        var fused = Run(loaded);
        loaded.FusedProjections = false;
        var plain = Run(loaded);
        for (int k = 0; k < expected.Count; k++)
        {
            TensorAssert.Close(fused[k], expected[k], 1e-6, $"fused output {k}");
            TensorAssert.Close(plain[k], expected[k], 1e-6, $"per-projection output {k}");
        }
    }

    [Fact]
    public void Trainable_weights_take_the_per_projection_path_so_gradients_reach_them()
    {
        using var mlp = new LlamaMLP(8, 16, ScalarType.Float32, CPU);
        foreach (var p in mlp.parameters()) p.copy_(randn(p.shape).Times(0.3));
        foreach (var p in mlp.parameters()) p.requires_grad_(true);
        using var x = randn(3, 8);
        using var y = mlp.forward(x).sum();
        y.backward();
        Assert.All(new[] { mlp.gate_proj, mlp.up_proj, mlp.down_proj },
            p => Assert.True(p.weight.grad is { } g && g.abs().sum().item<float>() > 0));
    }
}
