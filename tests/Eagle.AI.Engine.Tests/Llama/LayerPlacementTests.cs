using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Checkpoints;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

/// <summary>
/// Layers split over devices. This machine has one device, so the split runs over two <c>cpu</c> segments: the
/// boundary code (hidden state, rope tables and mask moved to the segment, captured features and the final hidden state
/// moved home, per-layer KV devices) runs, and the output must not change by a single bit.
/// </summary>
public class LayerPlacementTests
{
    [Fact]
    public void Parses_segments_in_layer_order()
    {
        var p = LayerPlacement.Parse(" cpu=0-2 ; cpu=3 ;");

        Assert.Equal([(0, 2), (3, 3)], p.Segments.Select(s => (s.First, s.Last)));
        Assert.Equal(TorchSharp.DeviceType.CPU, p.Home.type);
        Assert.Equal(TorchSharp.DeviceType.CPU, p.DeviceOf(3).type);
        Assert.Null(p.Mismatch(4));
    }

    [Theory]
    [InlineData("cpu=0-1;cpu=1-3", "starts at layer 1, but the next unplaced layer is 2")]
    [InlineData("cpu=0-1;cpu=3-3", "starts at layer 3")]
    [InlineData("cpu=2-0", "starts at layer 2")]
    [InlineData("cpu=0-2;cpu=3-1", "the range must be ascending")]
    [InlineData("cpu:0-3", "is not device=first-last")]
    [InlineData("cpu=a-b", "'a-b' is not a layer range")]
    [InlineData("tpu=0-3", "expected auto, cpu, cuda or cuda:N")]
    [InlineData("", "no segment")]
    public void Malformed_placements_say_what_is_wrong_before_and_after_devices_resolve(string spec, string why)
    {
        var parsed = Assert.Throws<FormatException>(() => LayerPlacement.Parse(spec));
        var checkedOnly = Assert.Throws<FormatException>(() => LayerPlacement.Check(spec));

        foreach (var e in new[] { parsed, checkedOnly })
        {
            Assert.Contains(why, e.Message, StringComparison.Ordinal);
            Assert.Contains($"'{spec}'", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("cpu=0-2", "layers 3..3 are not placed")]
    [InlineData("cpu=0-1;cpu=2-4", "ends beyond the model's 4 layers")]
    public void A_placement_that_does_not_cover_the_layers_exactly_is_refused_by_the_model(string spec, string why)
    {
        var placement = LayerPlacement.Parse(spec);
        Assert.Contains(why, placement.Mismatch(4), StringComparison.Ordinal);

        var e = Assert.Throws<ArgumentException>(() => new LlamaForCausalLM(TestModels.A, ScalarType.Float32, CPU, placement));
        Assert.Equal("placement", e.ParamName);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_returns_the_home_device_as_written_without_resolving_it()
    {
        // Parse would resolve cuda:1 (and fail without CUDA); Check only reads the text, as the options validator needs.
        Assert.Equal("CUDA:1", LayerPlacement.Check(" CUDA:1=0-1 ; cuda:0=2-3"));
    }

    [Fact]
    public void A_split_model_computes_exactly_what_the_whole_model_does()
    {
        using var dir = new TempDir();
        using (var source = TestModels.Create("C", seed: 5)) LlamaCheckpoint.Save(source, dir.Path);
        using var whole = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU);
        using var split = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU, placement: LayerPlacement.Parse("cpu=0-2;cpu=3-5;cpu=6-7"));
        Assert.Equal(3, split.Placement.Segments.Count);
        using var cache = split.NewCache(16);
        Assert.Equal(8, cache.LayerDevices.Count());

        int[] capture = [2, 4, 5];
        var a = Run(whole, capture);
        var b = Run(split, capture);

        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].shape, b[i].shape);
            Assert.True(a[i].eq(b[i]).all().item<bool>(), $"output {i} differs between the whole and the split model");
        }
        foreach (var t in a.Concat(b)) t.Dispose();
    }

    [Fact]
    public void Speculative_greedy_output_on_a_split_target_equals_vanilla()
    {
        using var dir = new TempDir();
        using (var source = TestModels.Create("A", seed: 9)) LlamaCheckpoint.Save(source, dir.Path);
        using var split = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU, placement: LayerPlacement.Parse("cpu=0-1;cpu=2-3"));
        using var drafter = new EagleDrafter(Eagle3Head.CreateRandom(split, seed: 3), new TreeSettings { TotalTokens = 10, Depth = 4, TopK = 3 });
        var options = new GenerationOptions { MaxNewTokens = 24, StopTokenIds = [] };
        int[] prompt = [5, 17, 33, 8, 61];

        var vanilla = new VanillaGenerator(split).Generate(prompt, options).OutputIds;
        var speculative = new SpeculativeGenerator(split, drafter).Generate(prompt, options).OutputIds;

        Assert.Equal(vanilla, speculative);
    }

    // Also with the one-token sessions' attention gathered (as on a GPU): its mask travels to each segment's device.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Batched_sessions_on_a_split_target_give_their_solo_outputs(bool gathered)
    {
        using var dir = new TempDir();
        using (var source = TestModels.Create("A", seed: 4)) LlamaCheckpoint.Save(source, dir.Path);
        using var split = LlamaCheckpoint.Load(dir.Path, ScalarType.Float32, CPU, placement: LayerPlacement.Parse("cpu=0;cpu=1-3"));
        using var drafter = new EagleDrafter(Eagle3Head.CreateRandom(split, seed: 2), new TreeSettings { TotalTokens = 8, Depth = 3, TopK = 3 });
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        var vanilla = new VanillaGenerator(split);
        var speculative = new SpeculativeGenerator(split, drafter);
        int[][] prompts = [[5, 17, 33], [8, 61, 2 + 40, 19, 7, 70], [44], [9, 12]];
        bool Plain(int i) => i % 2 == 1;
        var solo = prompts.Select((p, i) => (Plain(i) ? vanilla.Generate(p, options) : speculative.Generate(p, options)).OutputIds).ToList();

        split.GatherDecodeAttention = gathered;
        var sessions = prompts.Select((p, i) => Plain(i) ? (DecodingSession)vanilla.Start(p, options) : speculative.Start(p, options)).ToList();
        try
        {
            while (sessions.Any(s => !s.Done)) DecodingSession.Step(sessions.Where(s => !s.Done).ToArray());
            for (int i = 0; i < prompts.Length; i++) Assert.Equal(solo[i], sessions[i].Result.OutputIds);
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
        }
    }

    // Prefill with captured features and the final hidden state, then two single-token steps, then a 3-token tree
    // verify with a custom mask: every kind of forward the engine runs.
    private static List<Tensor> Run(LlamaForCausalLM m, int[] capture)
    {
        var outputs = new List<Tensor>();
        using var cache = m.NewCache(16);
        using (var o = m.Forward(Ids(3, 9, 27, 81, 50), HeldScalars.Range(0, 5), cache, null, new ForwardRequest(CaptureLayers: capture, FinalHidden: true)))
            outputs.AddRange([o.Logits.clone(), o.Captured!.clone(), o.FinalHidden!.clone()]);
        for (int step = 0; step < 2; step++)
        {
            using var o = m.Forward(Ids(11 + step), tensor(new long[] { 5 + step }), cache, null, ForwardRequest.AllLogits);
            outputs.Add(o.Logits.clone());
        }
        using var mask = cat([ones([3, 7], ScalarType.Bool), tensor(new[,] { { true, false, false }, { true, true, false }, { true, false, true } })], 1);
        using (var o = m.Forward(Ids(4, 6, 7), tensor(new long[] { 7, 8, 8 }), cache, mask, ForwardRequest.AllLogits))
            outputs.Add(o.Logits.clone());
        using var slots = tensor(new long[] { 7, 9 });
        cache.Compact(7, slots);
        using (var o = m.Forward(Ids(12), tensor(new long[] { 9 }), cache, null, ForwardRequest.AllLogits))
            outputs.Add(o.Logits.clone());
        return outputs;
    }

    private static Tensor Ids(params int[] ids) => tensor(ids.Select(i => (long)i).ToArray());
}
