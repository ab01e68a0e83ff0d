using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Tests.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// On a GPU every device→host read waits for the queued work, so a speculative round must read exactly once (the accepted
/// path): none while drafting (dynamic or static trees), none between verify and acceptance. Every read of the decoding
/// loop goes through <see cref="HostReads"/>, which these tests count (per thread, so parallel tests do not interfere).
/// </summary>
public class HostReadTests
{
    public static readonly TheoryData<EagleHeadKind, TreeKind, bool> Cases = new()
    {
        { EagleHeadKind.Eagle3, TreeKind.Dynamic, false }, { EagleHeadKind.Eagle3, TreeKind.Dynamic, true },
        { EagleHeadKind.Eagle1, TreeKind.Static, false }, { EagleHeadKind.Eagle1, TreeKind.Static, true },
        { EagleHeadKind.Eagle3, TreeKind.Static, true }, { EagleHeadKind.Eagle1, TreeKind.Dynamic, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_eagle_round_reads_the_device_exactly_once(EagleHeadKind kind, TreeKind tree, bool sampling)
    {
        using var target = TestModels.Create("A", seed: 11);
        var settings = tree == TreeKind.Static ? TreeSettings.Static() : new TreeSettings { TotalTokens = 24, Depth = 4, TopK = 5 };
        using var drafter = new EagleDrafter(DraftingFixtures.Head(kind, target), settings);
        var generator = new SpeculativeGenerator(target, drafter);
        var options = new GenerationOptions
        {
            MaxNewTokens = 20, StopTokenIds = [],
            Sampling = sampling ? new SamplingOptions { Temperature = 0.9f, TopP = 0.95f, Seed = 5 } : new SamplingOptions(),
        };
        int[] prompt = [5, 9, 14, 20, 33];

        using var reads = HostReads.Observe();
        var result = generator.Generate(prompt, options);
        Assert.True(result.Stats.Rounds >= 5, $"only {result.Stats.Rounds} rounds");
        Assert.Equal(1 + result.Stats.Rounds, reads.Count);                         // the prefill's root, then one per round
        if (!sampling) Assert.Equal(new VanillaGenerator(target).Generate(prompt, options).OutputIds, result.OutputIds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Multi_token_acceptance_still_reads_once_per_round(bool sampling)
    {
        // An oracle drafter (host-built trees, uploaded) gets long runs accepted: acceptance, KV compaction and the
        // features for the next round all come from the one read.
        using var target = TestModels.Create("B", seed: 3);
        int[] prompt = [5, 9, 14];
        var options = new GenerationOptions
        {
            MaxNewTokens = 30, StopTokenIds = [],
            Sampling = sampling ? new SamplingOptions { Temperature = 0.5f, Seed = 2 } : new SamplingOptions(),
        };
        var expected = new VanillaGenerator(target).Generate(prompt, options).OutputIds;
        using var oracle = new OracleDrafter([.. prompt, .. expected], 0, 5, target.Config.VocabSize, seed: 1);
        using var reads = HostReads.Observe();
        var result = new SpeculativeGenerator(target, oracle).Generate(prompt, options);
        Assert.Equal(1 + result.Stats.Rounds, reads.Count);
        if (!sampling)
        {
            Assert.Equal(expected, result.OutputIds);
            Assert.True(result.Stats.AcceptedDraftTokens > 2 * result.Stats.Rounds, $"{result.Stats.AcceptedDraftTokens} drafts in {result.Stats.Rounds} rounds");
        }
    }

    [Fact]
    public void Reading_a_device_tree_on_the_host_is_counted()
    {
        using var target = TestModels.Create("A");
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 10, Depth = 3, TopK = 3 });
        using var drafterState = drafter.Begin(32);
        using var features = DraftingFixtures.Features(drafter.Head, 3, 1);
        using var reads = HostReads.Observe();
        var tree = drafter.Draft(drafterState, features, [5, 6, 7], DraftingFixtures.Greedy);
        Assert.Equal(0, reads.Count);                                               // drafting reads nothing
        Assert.Equal(7, tree.Tokens[0]);
        _ = tree.Parents;
        _ = tree.Children;
        Assert.Equal(1, reads.Count);                                               // the host view: one read, then cached
    }

    /// <summary>
    /// The greedy choice reads like libtorch's argmax — the first of equal largest values, a NaN above everything — as one
    /// read, whether the row is searched where it lies (fp32, contiguous, in CPU memory) or goes through libtorch.
    /// </summary>
    [Fact]
    public void Argmax_takes_the_first_largest_value_and_counts_one_read()
    {
        using var scope = NewDisposeScope();
        var v = new float[128_256];
        for (int i = 0; i < v.Length; i++) v[i] = (i * 7919 % 1000) / 100f;   // 0 … 9.99, many ties
        v[70_001] = 12.5f;
        v[90_000] = 12.5f;
        var row = tensor(v);
        using var reads = HostReads.Observe();
        Assert.Equal(70_001, HostReads.ArgMax(row));
        Assert.Equal(row.argmax().item<long>(), HostReads.ArgMax(row));
        Assert.Equal(2, reads.Count);
        Assert.Equal(70_001, HostReads.ArgMax(row.to(ScalarType.Float64)));                    // through libtorch
        Assert.Equal(70_001, HostReads.ArgMax(stack([row, row], 1)[.., 0]));                    // not contiguous
        Assert.Equal(2, HostReads.ArgMax(tensor(new[] { 1f, float.NegativeInfinity, float.NaN, 3f, float.NaN })));
        Assert.Equal(tensor(new[] { 1f, float.NaN, 3f }).argmax().item<long>(), HostReads.ArgMax(tensor(new[] { 1f, float.NaN, 3f })));
        Assert.Equal(11, HostReads.ArgMax(tensor(Enumerable.Range(0, 40).Select(i => i == 11 || i == 30 ? 5f : -1f).ToArray())));
        Assert.Equal(7, reads.Count);
    }
}
