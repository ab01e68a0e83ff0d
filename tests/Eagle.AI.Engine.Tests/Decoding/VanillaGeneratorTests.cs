using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

public class VanillaGeneratorTests
{
    [Fact]
    public void Greedy_equals_argmax_of_a_full_recompute_at_every_step()
    {
        using var m = TestModels.Create("B", seed: 2);
        int[] prompt = [4, 8, 15, 16, 23];
        var result = new VanillaGenerator(m).Generate(prompt, new GenerationOptions { MaxNewTokens = 8, StopTokenIds = [] });
        var seq = prompt.ToList();
        using var noGrad = no_grad();
        foreach (int token in result.OutputIds)
        {
            using var cache = m.NewCache(seq.Count);
            using var ids = tensor(seq.Select(t => (long)t).ToArray());
            using var pos = HeldScalars.Range(0, seq.Count);
            using var o = m.Forward(ids, pos, cache, null, ForwardRequest.AllLogits);
            Assert.Equal(o.Logits[seq.Count - 1].argmax().item<long>(), token);
            seq.Add(token);
        }
        Assert.Equal(8, result.OutputIds.Count);
        Assert.Equal(FinishReason.Length, result.FinishReason);
        Assert.Equal(5, result.Stats.PromptTokens);
        Assert.Equal(8, result.Stats.TargetForwards);
    }

    [Fact]
    public void The_same_seed_gives_the_same_sample_and_another_seed_usually_not()
    {
        using var m = TestModels.Create("A", seed: 2, lmHeadScale: 1.0);
        var gen = new VanillaGenerator(m);
        GenerationOptions Opt(long seed) => new()
        {
            MaxNewTokens = 20, StopTokenIds = [], Sampling = new SamplingOptions { Temperature = 1f, Seed = seed },
        };
        var a = gen.Generate([3, 4, 5], Opt(42)).OutputIds;
        var b = gen.Generate([3, 4, 5], Opt(42)).OutputIds;
        var c = gen.Generate([3, 4, 5], Opt(43)).OutputIds;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Stops_at_a_stop_id_and_keeps_it_as_the_last_token()
    {
        using var m = TestModels.Create("C", seed: 4);
        var free = new VanillaGenerator(m).Generate([7, 7, 9], new GenerationOptions { MaxNewTokens = 10, StopTokenIds = [] });
        int stop = free.OutputIds[3];
        var r = new VanillaGenerator(m).Generate([7, 7, 9], new GenerationOptions { MaxNewTokens = 10, StopTokenIds = [stop] });
        Assert.Equal(FinishReason.Stop, r.FinishReason);
        Assert.Equal(stop, r.OutputIds[^1]);
        Assert.Equal(free.OutputIds.Take(r.OutputIds.Count), r.OutputIds);
    }

    [Fact]
    public void A_prompt_that_does_not_fit_the_context_limit_is_a_clear_error_and_the_model_stays_usable()
    {
        using var m = TestModels.Create("A");
        var gen = new VanillaGenerator(m, contextLimit: 8);
        var e = Assert.Throws<ArgumentException>(() => gen.Generate(Enumerable.Repeat(5, 8).ToArray(), new GenerationOptions()));
        Assert.Contains("context limit is 8", e.Message);
        Assert.Throws<ArgumentException>(() => gen.Generate([], new GenerationOptions()));
        var ok = gen.Generate([5, 6], new GenerationOptions { MaxNewTokens = 20, StopTokenIds = [] });
        Assert.Equal(7, ok.OutputIds.Count); // 8 positions: 2 prompt + 6 generated in the cache, + the last token
        Assert.Equal(FinishReason.Length, ok.FinishReason);
    }

    [Theory]
    [InlineData(-0.5f, 1f, 0, "Temperature")]
    [InlineData(1f, 0f, 0, "TopP")]
    [InlineData(1f, 1.5f, 0, "TopP")]
    [InlineData(1f, 1f, -1, "TopK")]
    public void Invalid_sampling_options_name_the_option(float t, float p, int k, string name)
    {
        using var m = TestModels.Create("A");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new VanillaGenerator(m).Generate([1, 2],
            new GenerationOptions { Sampling = new SamplingOptions { Temperature = t, TopP = p, TopK = k } }));
        Assert.Equal(name, e.ParamName);
    }

    [Theory]
    [InlineData(0, 0f, "MaxNewTokens")]
    [InlineData(4, -1f, "Temperature")]
    public void Both_public_session_constructors_name_an_invalid_option(int maxNew, float temperature, string name)
    {
        using var m = TestModels.Create("A");
        using var drafter = new OracleDrafter([1, 2, 3, 4], 0.3, 4, m.Config.VocabSize, seed: 1);
        var options = new GenerationOptions { MaxNewTokens = maxNew, Sampling = new SamplingOptions { Temperature = temperature } };

        Assert.Equal(name, Assert.Throws<ArgumentOutOfRangeException>(() => new VanillaSession(m, [1, 2], options)).ParamName);
        Assert.Equal(name, Assert.Throws<ArgumentOutOfRangeException>(() => new SpeculativeSession(m, drafter, [1, 2], options)).ParamName);
    }

}

[Collection(NonParallel.Name)]
public class LeakTests
{
    [Fact]
    public void Speculative_live_tensor_count_is_flat_across_100_generate_calls()
    {
        using var m = TestModels.Create("A");
        int[] prompt = [1, 2, 3];
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        var expected = new VanillaGenerator(m).Generate(prompt, options).OutputIds;
        using var oracle = new OracleDrafter([.. prompt, .. expected], 0.3, 4, m.Config.VocabSize, seed: 1);
        var gen = new SpeculativeGenerator(m, oracle);
        gen.Generate(prompt, options);
        long before = LiveTensors();
        for (int i = 0; i < 100; i++) gen.Generate(prompt, options);
        Assert.Equal(before, LiveTensors());
    }

    [Fact]
    public void Vanilla_live_tensor_count_is_flat_across_100_generate_calls()
    {
        using var m = TestModels.Create("A");
        var gen = new VanillaGenerator(m);
        var options = new GenerationOptions { MaxNewTokens = 4, StopTokenIds = [], Sampling = new SamplingOptions { Temperature = 0.8f, TopP = 0.9f, TopK = 5, Seed = 1 } };
        gen.Generate([1, 2, 3], options);
        long before = LiveTensors();
        for (int i = 0; i < 100; i++) gen.Generate([1, 2, 3], options);
        Assert.Equal(before, LiveTensors());
    }

    internal static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Tensor.TotalCount;
    }
}
