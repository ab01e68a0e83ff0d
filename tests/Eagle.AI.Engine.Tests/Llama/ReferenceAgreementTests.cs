using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

public class ReferenceAgreementTests
{
    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Logits_and_captured_layer_inputs_match_the_float64_reference(string name)
    {
        using var model = TestModels.Create(name, seed: 7);
        var c = model.Config;
        var weights = model.state_dict().ToDictionary(kv => kv.Key, kv =>
        {
            using var d = kv.Value.to(ScalarType.Float64).contiguous();
            return d.data<double>().ToArray();
        });
        var reference = new ReferenceLlama(c, weights);
        int[] ids = TestModels.RandomPrompt(new Random(3), 11, c.VocabSize);
        var expected = reference.Forward(ids);

        using var noGrad = no_grad();
        using var cache = model.NewCache(32);
        int[] layers = Enumerable.Range(0, c.NumHiddenLayers).ToArray();
        using var idt = tensor(ids.Select(i => (long)i).ToArray());
        using var pos = HeldScalars.Range(0, ids.Length);
        using var output = model.Forward(idt, pos, cache, null, new ForwardRequest(CaptureLayers: layers));

        TensorAssert.Close(TensorAssert.Rows(output.Logits), expected.Logits, 1e-4, "logits");
        var captured = TensorAssert.Rows(output.Captured!); // [n, N·H]
        int H = c.HiddenSize;
        foreach (int l in layers)
        {
            var actual = captured.Select(r => r.AsSpan(l * H, H).ToArray()).ToArray();
            TensorAssert.Close(actual, expected.LayerInputs[l], 1e-4, $"input of layer {l}");
        }
    }

    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Eagle3_capture_concatenates_layers_low_to_high(string name)
    {
        using var model = TestModels.Create(name);
        int[] layers = model.Config.Eagle3CaptureLayers.Distinct().Order().ToArray();
        using var noGrad = no_grad();
        using var cache1 = model.NewCache(8);
        using var cache2 = model.NewCache(8);
        using var ids = tensor(new long[] { 5, 6, 7 });
        using var pos = HeldScalars.Range(0, 3);
        using var all = model.Forward(ids, pos, cache1, null, new ForwardRequest(CaptureLayers: Enumerable.Range(0, model.Config.NumHiddenLayers).ToArray()));
        using var some = model.Forward(ids, pos, cache2, null, new ForwardRequest(CaptureLayers: layers, FinalHidden: true));
        int H = model.Config.HiddenSize;
        using var expected = cat(layers.Select(l => all.Captured!.narrow(1, l * H, H)).ToArray(), 1);
        Assert.True(some.Captured!.equal(expected).all().item<bool>());
        Assert.Equal(new long[] { 3, H }, some.FinalHidden!.shape);
    }

    [Fact]
    public void Llama3_rope_scaling_matches_the_published_formula_at_band_edges()
    {
        var s = new Eagle.AI.Engine.Checkpoints.RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 8192 };
        var plain = RotaryEmbedding.InverseFrequencies(128, 500000, null);
        var scaled = RotaryEmbedding.InverseFrequencies(128, 500000, s);
        Assert.Equal(plain[0], scaled[0]);                         // highest frequency kept
        Assert.Equal(plain[^1] / 8, scaled[^1], 12);               // lowest frequency interpolated by the factor
        Assert.Contains(scaled.Select((f, i) => f / plain[i]), r => r > 1.0 / 8 && r < 1); // a blended band exists
    }
}
