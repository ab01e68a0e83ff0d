using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

public sealed class EagleHeadLoadingTests : IDisposable
{
    private readonly TempFolder dir = new();

    public void Dispose() => dir.Dispose();

    private static Dictionary<string, Tensor> StateWithD2t(EagleHead head)
    {
        var sd = head.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        if (head is Eagle3Head h3) sd["d2t"] = h3.d2t;
        return sd;
    }

    private static void AssertSameHead(EagleHead expected, EagleHead actual, Func<Tensor, Tensor>? storedAs = null)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        var a = StateWithD2t(actual);
        var e = StateWithD2t(expected);
        Assert.Equal(e.Keys.Order(), a.Keys.Order());
        foreach (var (name, t) in e)
        {
            using var want = t.is_floating_point() && storedAs is not null ? storedAs(t) : t.alias();
            DraftingFixtures.AssertExact(a[name], want, name);
        }
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void Saved_safetensors_head_loads_back_exactly(EagleHeadKind kind)
    {
        using var target = TestModels.Create("A");
        using var head = DraftingFixtures.Head(kind, target);
        head.Save(dir.Path);
        Assert.True(File.Exists(dir.File("model.safetensors")));
        using var loaded = EagleHead.Load(dir.Path, target);
        Assert.Equal(kind, loaded.Kind);
        Assert.Equal(dir.Path, loaded.SourcePath);
        Assert.Null(loaded.embed_tokens);                                          // borrowed from the target
        AssertSameHead(head, loaded);
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void Torch_save_bin_head_loads_exactly(EagleHeadKind kind)
    {
        using var target = TestModels.Create("A");
        using var head = DraftingFixtures.Head(kind, target);
        head.Save(dir.Path);
        File.Delete(dir.File("model.safetensors"));
        // the layout the reference trainer writes: pytorch_model.bin with d2t int64 (and t2d bool, which is ignored)
        var sd = StateWithD2t(head);
        using var t2d = zeros(target.Config.VocabSize, ScalarType.Bool);
        if (kind == EagleHeadKind.Eagle3) sd["t2d"] = t2d;
        // q/k/v and gate/up weights are views of one fused storage; PyBridge writes a view's storage offset with only
        // the view's own bytes, so give it standalone copies (torch.save itself would write the shared storage)
        PyTorchPickler.PickleStateDict(dir.File("pytorch_model.bin"), sd.ToDictionary(kv => kv.Key, kv => kv.Value.clone()));
        using var loaded = EagleHead.Load(dir.Path, target);
        AssertSameHead(head, loaded);
    }

    [Fact]
    public void Fp16_stored_head_loads_into_an_fp32_target()
    {
        using var target = TestModels.Create("C");
        using var head = Eagle3Head.CreateRandom(target, 3, draftVocabSize: 50);
        head.Save(dir.Path);
        var half = StateWithD2t(head).ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.half() : kv.Value.alias());
        SafetensorsWriter.Write(dir.File("model.safetensors"), half);
        using var loaded = EagleHead.Load(dir.Path, target);
        Assert.Equal(ScalarType.Float32, loaded.DType);
        Assert.All(loaded.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        AssertSameHead(head, loaded, t => t.half().to(ScalarType.Float32));
        foreach (var t in half.Values) t.Dispose();
    }

    [Fact]
    public void Own_embed_tokens_in_the_checkpoint_override_the_targets()
    {
        using var target = TestModels.Create("A");
        using var head = Eagle1Head.CreateRandom(target, 3);
        head.Save(dir.Path);
        var sd = StateWithD2t(head);
        using var own = randn(target.Config.VocabSize, target.Config.HiddenSize);
        sd["embed_tokens.weight"] = own;
        SafetensorsWriter.Write(dir.File("model.safetensors"), sd);
        using var loaded = EagleHead.Load(dir.Path, target);
        Assert.NotNull(loaded.embed_tokens);
        DraftingFixtures.AssertExact(loaded.embed_tokens!.weight, own, "embed_tokens");
    }

    [Fact]
    public void Hidden_size_mismatch_names_the_head_and_both_sizes()
    {
        using var a = TestModels.Create("A");
        using var c = TestModels.Create("C");
        using (var head = Eagle3Head.CreateRandom(a, 1)) head.Save(dir.Path);
        var e = Assert.Throws<DraftModelMismatchException>(() => EagleHead.Load(dir.Path, c));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("hidden_size is 32, the target's is 64", e.Message);
        Assert.Equal(dir.Path, e.HeadPath);
    }

    [Fact]
    public void Vocabulary_mismatch_is_reported()
    {
        using var a = TestModels.Create("A");
        using var other = LlamaFactory.CreateRandom(TestModels.A with { VocabSize = 101 }, 1, ScalarType.Float32, CPU);
        using (var head = Eagle1Head.CreateRandom(a, 1)) head.Save(dir.Path);
        var e = Assert.Throws<DraftModelMismatchException>(() => EagleHead.Load(dir.Path, other));
        Assert.Contains("vocab_size is 97, the target's is 101", e.Message);
    }

    [Fact]
    public void D2t_pointing_outside_the_target_vocabulary_is_reported()
    {
        using var a = TestModels.Create("A");
        using var head = Eagle3Head.CreateRandom(a, 1, draftVocabSize: 10);
        head.Save(dir.Path);
        var sd = StateWithD2t(head);
        using var bad = head.d2t.clone();
        bad[9] = tensor(97L - 9);                                                  // draft id 9 → target id 97 = V
        sd["d2t"] = bad;
        SafetensorsWriter.Write(dir.File("model.safetensors"), sd);
        var e = Assert.Throws<DraftModelMismatchException>(() => EagleHead.Load(dir.Path, a));
        Assert.Contains("d2t maps draft id 9 to target id 97", e.Message);
    }

    [Fact]
    public void Missing_d2t_for_a_smaller_draft_vocabulary_and_missing_weights_are_checkpoint_errors()
    {
        using var a = TestModels.Create("A");
        using var head = Eagle3Head.CreateRandom(a, 1, draftVocabSize: 10);
        head.Save(dir.Path);
        var sd = StateWithD2t(head);
        sd.Remove("d2t");
        SafetensorsWriter.Write(dir.File("model.safetensors"), sd);
        var e = Assert.Throws<CheckpointException>(() => EagleHead.Load(dir.Path, a));
        Assert.Equal("d2t", e.Tensor);

        sd = StateWithD2t(head);
        sd.Remove("midlayer.mlp.up_proj.weight");
        SafetensorsWriter.Write(dir.File("model.safetensors"), sd);
        e = Assert.Throws<CheckpointException>(() => EagleHead.Load(dir.Path, a));
        Assert.Equal("midlayer.mlp.up_proj.weight", e.Tensor);
    }

    [Fact]
    public void Default_capture_layers_that_are_not_distinct_need_explicit_ids()
    {
        using var a = TestModels.Create("A");                                      // 4 layers: [2, 2, 1]
        using (var head = Eagle3Head.CreateRandom(a, 1)) head.Save(dir.Path);
        var config = EagleHeadConfig.Load(dir.Path);
        Assert.Equal([0, 2, 3], config.AuxHiddenStateLayerIds!);
        (config with { AuxHiddenStateLayerIds = null }).Save(dir.Path);
        var e = Assert.Throws<DraftModelMismatchException>(() => EagleHead.Load(dir.Path, a));
        Assert.Contains("eagle_aux_hidden_state_layer_ids", e.Message);
    }

    [Fact]
    public void A_checkpoint_that_is_no_eagle_head_is_rejected()
    {
        using var a = TestModels.Create("A");
        using (var head = Eagle1Head.CreateRandom(a, 1)) head.Save(dir.Path);
        using var w = zeros(3);
        SafetensorsWriter.Write(dir.File("model.safetensors"), new Dictionary<string, Tensor> { ["something.weight"] = w });
        var e = Assert.Throws<CheckpointException>(() => EagleHead.Load(dir.Path, a));
        Assert.Contains("not an EAGLE head", e.Message);
    }
}
