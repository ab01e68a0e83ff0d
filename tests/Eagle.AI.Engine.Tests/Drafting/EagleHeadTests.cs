using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

public class EagleHeadTests
{
    // d2t is listed by hand: it is a non-persistent buffer, which TorchSharp 0.107's named_buffers() never yields
    private static string Listing(EagleHead head) => string.Join("\n",
        head.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(head.named_buffers())
            .Concat(head is Eagle3Head h3 ? [("d2t", h3.d2t)] : [])
            .OrderBy(p => p.Item1, StringComparer.Ordinal)
            .Select(p => $"{p.Item1} [{string.Join(", ", p.Item2.shape)}] {p.Item2.dtype}"));

    // Approved key/shape listings for heads built for target C (H 64, I 128, 4/4 heads, V 128, 8 layers).
    private const string Eagle3OnC = """
        d2t [40] Int64
        fc.weight [64, 192] Float32
        lm_head.weight [40, 64] Float32
        midlayer.hidden_norm.weight [64] Float32
        midlayer.input_layernorm.weight [64] Float32
        midlayer.mlp.down_proj.weight [64, 128] Float32
        midlayer.mlp.gate_proj.weight [128, 64] Float32
        midlayer.mlp.up_proj.weight [128, 64] Float32
        midlayer.post_attention_layernorm.weight [64] Float32
        midlayer.self_attn.k_proj.weight [64, 128] Float32
        midlayer.self_attn.o_proj.weight [64, 64] Float32
        midlayer.self_attn.q_proj.weight [64, 128] Float32
        midlayer.self_attn.v_proj.weight [64, 128] Float32
        norm.weight [64] Float32
        """;

    private const string Eagle1OnC = """
        fc.bias [64] Float32
        fc.weight [64, 128] Float32
        layers.0.mlp.down_proj.weight [64, 128] Float32
        layers.0.mlp.gate_proj.weight [128, 64] Float32
        layers.0.mlp.up_proj.weight [128, 64] Float32
        layers.0.post_attention_layernorm.weight [64] Float32
        layers.0.self_attn.k_proj.weight [64, 64] Float32
        layers.0.self_attn.o_proj.weight [64, 64] Float32
        layers.0.self_attn.q_proj.weight [64, 64] Float32
        layers.0.self_attn.v_proj.weight [64, 64] Float32
        """;

    [Fact]
    public void Head_keys_and_shapes_match_the_approved_listing()
    {
        using var target = TestModels.Create("C");
        using (var h3 = Eagle3Head.CreateRandom(target, 1, draftVocabSize: 40))
        {
            Assert.Equal(Eagle3OnC.ReplaceLineEndings("\n"), Listing(h3));
            Assert.Equal([2, 4, 5], h3.Features.CaptureLayers!);
            Assert.False(h3.Features.FinalHidden);
        }
        using var h1 = Eagle1Head.CreateRandom(target, 1);
        Assert.Equal(Eagle1OnC.ReplaceLineEndings("\n"), Listing(h1));
        Assert.Null(h1.Features.CaptureLayers);
        Assert.True(h1.Features.FinalHidden);
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3, "A")]
    [InlineData(EagleHeadKind.Eagle3, "B")]
    [InlineData(EagleHeadKind.Eagle3, "C")]
    [InlineData(EagleHeadKind.Eagle1, "A")]
    [InlineData(EagleHeadKind.Eagle1, "B")]
    public void One_call_equals_two_calls_through_the_draft_cache(EagleHeadKind kind, string target)
    {
        using var t = TestModels.Create(target);
        using var head = DraftingFixtures.Head(kind, t);
        using var guard = no_grad();
        const int n = 9, split = 5;
        using var features = DraftingFixtures.Features(head, n, 3);
        int[] tokens = DraftingFixtures.Tokens(new Random(4), n, t.Config.VocabSize);
        using var ids = DraftingFixtures.Ids(tokens);

        using var full = head.NewCache(16);
        using var mask = LlamaForCausalLM.CausalMask(0, n, CPU);
        using var positions = HeldScalars.Range(0, n);
        using var whole = head.Forward(features, ids, positions, mask, full);          // [n, H]

        using var cache = head.NewCache(16);
        using var firstMask = LlamaForCausalLM.CausalMask(0, split, CPU);
        using var first = head.Forward(features[..split], ids[..split], positions[..split], firstMask, cache);
        cache.Advance(split);
        using var secondMask = LlamaForCausalLM.CausalMask(split, n - split, CPU);
        using var second = head.Forward(features[split..], ids[split..], positions[split..], secondMask, cache);
        using var both = cat([first, second], 0);
        DraftingFixtures.AssertClose(both, whole, 1e-5, "split");

        // the fed-back draft output (width H) skips fc and also runs
        using var next = head.Forward(whole[^1..], ids[..1], tensor(new long[] { n }), null, full);
        Assert.Equal([1L, head.HiddenSize], next.shape);
        using var lp = head.LogProbs(whole);
        Assert.Equal([(long)n, head.DraftVocabSize], lp.shape);
        Assert.Equal(ScalarType.Float32, lp.dtype);
    }

    [Fact]
    public void D2t_maps_the_draft_vocabulary_into_a_sorted_subset_of_the_target_vocabulary()
    {
        using var t = TestModels.Create("A");
        using var head = Eagle3Head.CreateRandom(t, 5, draftVocabSize: 20);
        using var all = HeldScalars.Range(0, 20);
        using var mapped = head.ToTarget(all);
        var ids = mapped.data<long>().ToArray();
        Assert.Equal(20, ids.Distinct().Count());
        Assert.Equal(ids.Order(), ids);                                            // used set sorted ascending
        Assert.All(ids, id => Assert.InRange(id, 0, 96));
        Assert.Equal(ids.Select(i => (int)i), Enumerable.Range(0, 20).Select(head.ToTarget));
        Assert.NotEqual(Enumerable.Range(0, 20).Select(i => (long)i), ids);        // not the identity
    }

    [Fact]
    public void Rope_base_comes_from_the_head_config_and_defaults_to_10000()
    {
        string json = """{ "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "vocab_size": 97, "draft_vocab_size": 20, "rope_scaling": null }""";
        using var dir = new TempFolder();
        File.WriteAllText(dir.File("config.json"), json);
        var c = EagleHeadConfig.Load(dir.Path);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(4, c.NumKeyValueHeads);
        Assert.Equal(8, c.HeadDim);
        Assert.True(c.Bias);

        File.WriteAllText(dir.File("config.json"), json.Replace("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}"));
        var e = Assert.Throws<Eagle.AI.Engine.Checkpoints.CheckpointException>(() => EagleHeadConfig.Load(dir.Path));
        Assert.Contains("rope_scaling", e.Message);
        Assert.Contains("config.json", e.Message);
    }
}
