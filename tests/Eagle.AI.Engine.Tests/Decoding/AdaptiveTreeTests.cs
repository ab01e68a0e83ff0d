using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// An adaptive tree (<see cref="TreeSettings.Adaptive"/>) mixes drafted rounds with plain one-token steps: the output is
/// still vanilla's, each round still reads the device once, and the drafter still sees every committed token's
/// features exactly once, in order, however many plain steps came between two drafts.
/// </summary>
public class AdaptiveTreeTests
{
    // A CPU-like device: an 8-token verify costs 1.2 steps, so a head that is never accepted soon stops drafting.
    private static readonly SpeculationCosts CpuLike =
        new(new VerifyCostCurve([(1, 10.0), (2, 11), (4, 11.5), (8, 12), (16, 14.5), (32, 20), (60, 29), (64, 30)]), 1.2, 0.5);

    public static readonly TheoryData<EagleHeadKind, TreeKind, bool> Cases = new()
    {
        { EagleHeadKind.Eagle3, TreeKind.Dynamic, false }, { EagleHeadKind.Eagle3, TreeKind.Dynamic, true },
        { EagleHeadKind.Eagle1, TreeKind.Static, false }, { EagleHeadKind.Eagle1, TreeKind.Dynamic, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_random_head_falls_back_to_plain_steps_with_vanilla_output_and_one_read_per_round(EagleHeadKind kind, TreeKind tree, bool sampling)
    {
        using var target = TestModels.Create("A", seed: 11);
        var settings = (tree == TreeKind.Static ? TreeSettings.Static() : new TreeSettings { TotalTokens = 24, Depth = 4, TopK = 5 }) with { Adaptive = true };
        using var drafter = new EagleDrafter(DraftingFixtures.Head(kind, target), settings);
        var generator = new SpeculativeGenerator(target, drafter) { Costs = CpuLike };
        var options = new GenerationOptions
        {
            MaxNewTokens = 40, StopTokenIds = [],
            Sampling = sampling ? new SamplingOptions { Temperature = 0.9f, TopP = 0.95f, Seed = 5 } : new SamplingOptions(),
        };
        int[] prompt = [5, 9, 14, 20, 33];

        using var reads = HostReads.Observe();
        var result = generator.Generate(prompt, options);
        Assert.Equal(1 + result.Stats.Rounds, reads.Count);
        Assert.InRange(result.Stats.DraftedRounds, 1, result.Stats.Rounds / 2);           // mostly plain steps
        Assert.Equal(result.Stats.DraftedRounds, result.Stats.TreeSizes.Values.Sum());
        Assert.True(result.Stats.VerifiedTreeTokens >= 2 * result.Stats.DraftedRounds);
        Assert.Equal(40, result.OutputIds.Count);
        if (!sampling) Assert.Equal(new VanillaGenerator(target).Generate(prompt, options).OutputIds, result.OutputIds);
    }

    // A generator remembers what its requests learned of the head: after one request with a head that is never
    // accepted, the next drafts less (no optimistic first rounds, no early probes) and still answers as vanilla.
    [Fact]
    public void A_generators_second_request_drafts_less_with_a_head_that_is_never_accepted()
    {
        using var target = TestModels.Create("A", seed: 11);
        var settings = new TreeSettings { TotalTokens = 24, Depth = 4, TopK = 5, Adaptive = true };
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), settings);
        var options = new GenerationOptions { MaxNewTokens = 40, StopTokenIds = [] };
        // A prompt on which the random head is never right (on a 97-token vocabulary it is, now and then).
        var random = new Random(3);
        SpeculativeGenerator generator;
        int[] prompt;
        GenerationResult first;
        int attempts = 0;
        do
        {
            generator = new SpeculativeGenerator(target, drafter) { Costs = CpuLike };
            prompt = TestModels.RandomPrompt(random, 6, target.Config.VocabSize);
            first = generator.Generate(prompt, options);
        }
        while (first.Stats.AcceptedDraftTokens > 0 && ++attempts < 20);
        Assert.Equal(0, first.Stats.AcceptedDraftTokens);

        var second = generator.Generate(prompt, options);
        Assert.True(second.Stats.DraftedRounds < first.Stats.DraftedRounds, $"{second.Stats.DraftedRounds} drafted rounds, then {first.Stats.DraftedRounds}");
        Assert.Equal(new VanillaGenerator(target).Generate(prompt, options).OutputIds, second.OutputIds);
    }

    [Fact]
    public void An_adaptive_tree_without_costs_is_refused_before_anything_runs()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), TreeSettings.AdaptiveDefault);
        var e = Assert.Throws<ArgumentNullException>(() => new SpeculativeGenerator(target, drafter).Generate([5, 9], new GenerationOptions { MaxNewTokens = 4 }));
        Assert.Contains(nameof(SpeculationCosts), e.Message);
    }

    [Fact]
    public void Plain_steps_hand_the_drafter_every_committed_feature_once_and_in_order()
    {
        using var target = TestModels.Create("A", seed: 11);
        var settings = new TreeSettings { TotalTokens = 16, Depth = 3, TopK = 4, Adaptive = true };
        using var inner = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), settings);
        using var recording = new RecordingDrafter(inner);
        int[] prompt = [5, 9, 14, 20, 33, 2];
        var options = new GenerationOptions { MaxNewTokens = 48, StopTokenIds = [] };
        var result = new SpeculativeGenerator(target, recording) { Costs = CpuLike }.Generate(prompt, options);
        Assert.True(result.Stats.Rounds - result.Stats.DraftedRounds >= 10, "plain steps between drafts");

        // What the drafter consumed pairs the feature of token p with token p + 1, for every committed position.
        int[] sequence = [.. prompt, .. result.OutputIds];
        int consumed = recording.Tokens.Count;
        Assert.Equal(sequence.Skip(1).Take(consumed), recording.Tokens);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = target.NewCache(sequence.Length);
        using var o = target.Forward(tensor(sequence.Select(t => (long)t).ToArray()), HeldScalars.Range(0, sequence.Length), cache, null,
            new ForwardRequest(CaptureLayers: inner.Features.CaptureLayers));
        var seen = cat(recording.Features);
        DraftingFixtures.AssertClose(seen, o.Captured!.narrow(0, 0, consumed), 1e-4, "features handed to the drafter");
    }

    // Passes everything through to an EagleDrafter and keeps a copy of what each Draft consumed.
    private sealed class RecordingDrafter(EagleDrafter inner) : IDrafter
    {
        public List<Tensor> Features { get; } = [];
        public List<int> Tokens { get; } = [];
        FeatureRequest IDrafter.Features => inner.Features;
        public int MaxTreeTokens => inner.MaxTreeTokens;
        public TreeSettings Tree => inner.Tree;
        public IDraftState Begin(int capacity) => inner.Begin(capacity);

        public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context)
        {
            Features.Add(features!.clone().DetachFromDisposeScope());
            Tokens.AddRange(nextTokens);
            return inner.Draft(state, features, nextTokens, context);
        }

        public void Dispose()
        {
            foreach (var f in Features) f.Dispose();
        }
    }
}
