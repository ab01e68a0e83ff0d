using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Tests.Drafting;
using Eagle.AI.Engine.Llama;

namespace Eagle.AI.Engine.Tests.Decoding;

public class GreedyEqualityTests
{
    private const int Prompts = 50, NewTokens = 24, Depth = 5;

    public static readonly TheoryData<string, double> Cases = new()
    {
        { "A", 0.0 }, { "A", 0.3 }, { "A", 0.7 }, { "A", 1.0 },
        { "B", 0.0 }, { "B", 0.3 }, { "B", 0.7 }, { "B", 1.0 },
        { "C", 0.0 }, { "C", 0.3 }, { "C", 0.7 }, { "C", 1.0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Speculative_with_an_oracle_drafter_equals_vanilla_token_for_token(string config, double errorRate)
    {
        using var target = TestModels.Create(config, seed: 11);
        var vanilla = new VanillaGenerator(target);
        var options = new GenerationOptions { MaxNewTokens = NewTokens, StopTokenIds = [] };
        var random = new Random(config.GetHashCode(StringComparison.Ordinal) ^ (int)(errorRate * 10));
        double tokens = 0, rounds = 0;
        for (int i = 0; i < Prompts; i++)
        {
            int[] prompt = TestModels.RandomPrompt(random, 3 + random.Next(10), target.Config.VocabSize);
            var expected = vanilla.Generate(prompt, options).OutputIds;
            using var oracle = new OracleDrafter([.. prompt, .. expected], errorRate, Depth, target.Config.VocabSize, seed: i);
            var streamed = new List<int>();
            var result = new SpeculativeGenerator(target, oracle).Generate(prompt, options, ids => streamed.AddRange(ids));
            Assert.Equal(expected, result.OutputIds);
            Assert.Equal(expected, streamed);
            tokens += result.Stats.GeneratedTokens - 1;
            rounds += result.Stats.Rounds;
        }
        double tau = tokens / rounds;
        if (errorRate == 0)
            Assert.True(tau >= 0.9 * (Depth + 1), $"τ = {tau:F2} with a perfect drafter, want ≥ {0.9 * (Depth + 1):F2}");
        if (errorRate == 1.0)
            Assert.Equal(1.0, tau, 6); // nothing accepted: one token per round, still exact
    }

    [Fact]
    public void A_stop_id_inside_an_accepted_run_ends_generation_there()
    {
        using var target = TestModels.Create("A", seed: 11);
        int[] prompt = [5, 9, 14, 20];
        var free = new VanillaGenerator(target).Generate(prompt, new GenerationOptions { MaxNewTokens = 20, StopTokenIds = [] }).OutputIds;
        int stopId = free[6];                               // a token the target will produce mid-run
        int firstStop = free.ToList().IndexOf(stopId);
        var options = new GenerationOptions { MaxNewTokens = 20, StopTokenIds = [stopId] };
        var expected = new VanillaGenerator(target).Generate(prompt, options);
        Assert.Equal(free.Take(firstStop + 1), expected.OutputIds);
        using var oracle = new OracleDrafter([.. prompt, .. free], 0, Depth, target.Config.VocabSize, seed: 1);
        var result = new SpeculativeGenerator(target, oracle).Generate(prompt, options);
        Assert.Equal(expected.OutputIds, result.OutputIds);
        Assert.Equal(FinishReason.Stop, result.FinishReason);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(13)]
    public void Max_new_tokens_cuts_inside_an_accepted_run(int max)
    {
        using var target = TestModels.Create("B", seed: 3);
        int[] prompt = [5, 9, 14];
        var options = new GenerationOptions { MaxNewTokens = max, StopTokenIds = [] };
        var expected = new VanillaGenerator(target).Generate(prompt, options);
        var longer = new VanillaGenerator(target).Generate(prompt, options with { MaxNewTokens = 40 }).OutputIds;
        using var oracle = new OracleDrafter([.. prompt, .. longer], 0, Depth, target.Config.VocabSize, seed: 1);
        var result = new SpeculativeGenerator(target, oracle).Generate(prompt, options);
        Assert.Equal(expected.OutputIds, result.OutputIds);
        Assert.Equal(max, result.OutputIds.Count);
        Assert.Equal(FinishReason.Length, result.FinishReason);
    }

    [Fact]
    public void The_context_limit_prunes_the_tree_and_ends_with_length_exactly_like_vanilla()
    {
        using var target = TestModels.Create("C", seed: 5);
        int[] prompt = [5, 9, 14, 3, 8];
        var options = new GenerationOptions { MaxNewTokens = 50, StopTokenIds = [] };
        var expected = new VanillaGenerator(target, contextLimit: 16).Generate(prompt, options);
        var longer = new VanillaGenerator(target).Generate(prompt, options).OutputIds;
        using var oracle = new OracleDrafter([.. prompt, .. longer], 0, Depth, target.Config.VocabSize, seed: 2);
        var result = new SpeculativeGenerator(target, oracle, contextLimit: 16) { TreeRoom = 0 }.Generate(prompt, options);
        Assert.Equal(FinishReason.Length, expected.FinishReason);
        Assert.Equal(expected.OutputIds, result.OutputIds);
        Assert.Equal(16 - prompt.Length + 1, result.OutputIds.Count); // every KV slot used, plus the uncommitted last token
    }

    [Fact]
    public void Cancellation_between_rounds_throws_and_the_next_request_is_exact()
    {
        using var target = TestModels.Create("A", seed: 11);
        int[] prompt = [5, 9, 14, 20];
        var options = new GenerationOptions { MaxNewTokens = 30, StopTokenIds = [] };
        var expected = new VanillaGenerator(target).Generate(prompt, options).OutputIds;
        using var cts = new CancellationTokenSource();
        using var oracle = new OracleDrafter([.. prompt, .. expected], 0, 2, target.Config.VocabSize, seed: 1);
        var generator = new SpeculativeGenerator(target, oracle);
        var seen = new List<int>();
        Assert.Throws<OperationCanceledException>(() => generator.Generate(prompt, options, ids =>
        {
            seen.AddRange(ids);
            if (seen.Count >= 5) cts.Cancel();
        }, cts.Token));
        Assert.Equal(expected.Take(seen.Count), seen);
        Assert.Equal(expected, generator.Generate(prompt, options).OutputIds);
    }
}

public class EagleHeadGreedyEqualityTests
{
    public static readonly TheoryData<string, EagleHeadKind, TreeKind> Cases = new()
    {
        { "A", EagleHeadKind.Eagle3, TreeKind.Dynamic }, { "A", EagleHeadKind.Eagle1, TreeKind.Static },
        { "B", EagleHeadKind.Eagle3, TreeKind.Dynamic }, { "B", EagleHeadKind.Eagle1, TreeKind.Static },
        { "C", EagleHeadKind.Eagle3, TreeKind.Static }, { "C", EagleHeadKind.Eagle1, TreeKind.Dynamic },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Speculative_with_a_random_eagle_head_equals_vanilla_on_50_prompts(string config, EagleHeadKind kind, TreeKind tree)
    {
        using var target = TestModels.Create(config, seed: 11);
        var settings = tree == TreeKind.Static ? TreeSettings.Static() : new TreeSettings { TotalTokens = 24, Depth = 4, TopK = 5 };
        using var drafter = new EagleDrafter(DraftingFixtures.Head(kind, target), settings);
        var vanilla = new VanillaGenerator(target);
        var speculative = new SpeculativeGenerator(target, drafter);
        var options = new GenerationOptions { MaxNewTokens = 16, StopTokenIds = [] };
        var random = new Random(17);
        for (int i = 0; i < 50; i++)
        {
            int[] prompt = TestModels.RandomPrompt(random, 2 + random.Next(12), target.Config.VocabSize);
            Assert.Equal(vanilla.Generate(prompt, options).OutputIds, speculative.Generate(prompt, options).OutputIds);
        }
    }

    // The public constructor, as an app that drives the engine itself uses it: a head, the default (adaptive) tree,
    // whose round costs it measures; disposing the generator leaves the head usable.
    [Fact]
    public void The_public_constructor_over_a_head_equals_vanilla_and_leaves_the_head_to_the_caller()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var head = DraftingFixtures.Head(EagleHeadKind.Eagle3, target);
        var options = new GenerationOptions { MaxNewTokens = 16, StopTokenIds = [] };
        int[] prompt = [5, 9, 14, 3];
        var expected = new VanillaGenerator(target).Generate(prompt, options).OutputIds;
        using (var speculative = new SpeculativeGenerator(target, head))
            Assert.Equal(expected, speculative.Generate(prompt, options).OutputIds);
        using var again = new SpeculativeGenerator(target, head, new TreeSettings { TotalTokens = 8, Depth = 3, TopK = 2 });
        Assert.Equal(expected, again.Generate(prompt, options).OutputIds);
    }
}
