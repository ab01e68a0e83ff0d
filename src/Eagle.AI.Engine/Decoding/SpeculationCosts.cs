using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// What a speculative round costs on this device, measured once at load: the target's forward time as a function of
/// the tokens it verifies (<see cref="Verify"/>), one draft-head step (<see cref="DraftStepMs"/>: a head forward over a
/// beam and its top-k), and the round's bookkeeping (<see cref="RoundOverheadMs"/>: tree mask, acceptance, KV
/// compaction), and the head's catch-up on tokens committed by plain steps (<see cref="CatchUpMsPerToken"/>).
/// <see cref="SpeculationPolicy"/> weighs them against the acceptance it observes.
/// </summary>
internal sealed record SpeculationCosts(VerifyCostCurve Verify, double DraftStepMs, double RoundOverheadMs)
{
    /// <summary>One plain decode step: a one-token target forward.</summary>
    public double StepMs => Verify.Milliseconds(1);

    /// <summary>
    /// The same costs for the smallest round: a head step over a one-node beam, and the bookkeeping of a two-token tree
    /// (null = costs that do not shrink with the tree). With the full-size figures they give each size's costs by linear
    /// interpolation: a small round's beam is only as wide as the nodes it keeps (<see cref="DynamicTree.BeamWidth"/>),
    /// and on a CPU a head step's cost grows with the rows it feeds.
    /// </summary>
    public SmallRoundCosts? Small { get; init; }

    /// <summary>
    /// Feeding the head one committed token it has not seen, as a catch-up of many at once (its forward over them,
    /// without the lm_head): what a round pays first for every plain step since the last draft. 0 = not measured.
    /// </summary>
    public double CatchUpMsPerToken { get; init; }

    /// <summary>One head step over a beam of <paramref name="width"/> nodes.</summary>
    public double DraftStepAt(int width) =>
        Small is null ? DraftStepMs : Between(1, Small.DraftStepMs, Small.FullBeamWidth, DraftStepMs, width);

    /// <summary>The bookkeeping of a round over a tree of <paramref name="tokens"/>.</summary>
    public double OverheadAt(int tokens) =>
        Small is null ? RoundOverheadMs : Between(2, Small.OverheadMs, Small.FullTreeTokens, RoundOverheadMs, tokens);

    /// <summary>
    /// A whole round of <paramref name="budget"/>: Depth + 1 head steps over its beam (no wider than the tree keeps
    /// nodes), the verify forward, the bookkeeping.
    /// </summary>
    public double RoundMs(TreeBudget budget) =>
        (budget.Depth + 1) * DraftStepAt(budget.TotalTokens - 1) + Verify.Milliseconds(budget.TotalTokens) + OverheadAt(budget.TotalTokens);

    // Linear between (x0, y0) and (x1, y1), flat outside.
    private static double Between(int x0, double y0, int x1, double y1, int x) =>
        x1 <= x0 ? y1 : y0 + (y1 - y0) * (Math.Clamp(x, x0, x1) - x0) / (double)(x1 - x0);

    /// <summary>
    /// Measures <paramref name="target"/> with <paramref name="drafter"/>'s head (its draft cache is reset, so call it
    /// between requests): the verify-cost curve, a draft round at the drafter's own depth, and the bookkeeping of a round
    /// over a tree of the drafter's size, each the best of a few runs after a warm-up.
    /// </summary>
    /// <param name="target">The target model.</param>
    /// <param name="drafter">The drafter whose head and tree are measured.</param>
    /// <param name="curve">An already measured verify-cost curve of <paramref name="target"/> (null = measure it).</param>
    public static SpeculationCosts Measure(LlamaForCausalLM target, EagleDrafter drafter, VerifyCostCurve? curve = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(drafter);
        curve ??= VerifyCostCurve.Measure(target);
        using var noGrad = no_grad();
        var (prompt, features) = PromptFeatures(target, drafter);               // one target forward for every measurement
        using var _ = features;
        var (draftRoundMs, tree) = MeasureDraft(target, drafter, prompt, features, null);
        int depth = drafter.Tree.Kind == TreeKind.Static ? tree.DepthBound - 1 : drafter.Tree.Depth;
        var full = new SpeculationCosts(curve, draftRoundMs / (depth + 1), MeasureBookkeeping(target, tree))
        {
            CatchUpMsPerToken = MeasureCatchUp(target, drafter, prompt, features),
        };
        if (drafter.Tree.Kind == TreeKind.Static) return full;                  // drafted whole or not at all
        // The smallest round: a two-token tree, its one-node beam fed at every depth.
        var (smallRoundMs, smallTree) = MeasureDraft(target, drafter, prompt, features, new TreeBudget(2, depth));
        return full with
        {
            Small = new SmallRoundCosts(smallRoundMs / (depth + 1), MeasureBookkeeping(target, smallTree),
                DynamicTree.BeamWidth(drafter.Tree.TopK, drafter.Head.DraftVocabSize, drafter.Tree.TotalTokens), tree.Count),
        };
    }

    private const int Prefix = 32;

    // A random prompt of Prefix tokens and the target features the drafter asks for at each position.
    private static (int[] Prompt, Tensor Features) PromptFeatures(LlamaForCausalLM target, EagleDrafter drafter)
    {
        var device = target.Device;
        var random = new Random(3);
        int[] prompt = Enumerable.Range(0, Prefix).Select(_ => random.Next(target.Config.VocabSize)).ToArray();
        using var cache = target.NewCache(Prefix);
        using var scope = NewDisposeScope();
        var request = new ForwardRequest(CaptureLayers: drafter.Features.CaptureLayers, FinalHidden: drafter.Features.FinalHidden);
        using var o = target.Forward(tensor(prompt.Select(t => (long)t).ToArray(), device: device),
            HeldScalars.Range(0, Prefix, device), cache, null, request);
        return (prompt, (o.Captured ?? o.FinalHidden!).clone().DetachFromDisposeScope());
    }

    // The head's catch-up over Prefix committed tokens at once (a fresh drafting state each time), per token.
    private static double MeasureCatchUp(LlamaForCausalLM target, EagleDrafter drafter, int[] prompt, Tensor features)
    {
        int[] next = [.. prompt.Skip(1), 1];
        double best = double.MaxValue;
        for (int i = 0; i < 4; i++)
        {
            using var state = drafter.Begin(Prefix);                               // allocated outside the timing
            double ms = DeviceClock.Time(target.Device, () => drafter.Consume(state, features, next));
            if (i > 0) best = Math.Min(best, ms);                                   // the first is a warm-up
        }
        return best / Prefix;
    }

    private static (double Ms, DraftTree Tree) MeasureDraft(LlamaForCausalLM target, EagleDrafter drafter, int[] prompt, Tensor features, TreeBudget? budget)
    {
        var device = target.Device;
        var context = new DraftContext(false, new Random(1)) { Budget = budget };
        const int repeats = 4;
        using var state = drafter.Begin(Prefix + repeats + 2);
        var tree = drafter.Draft(state, features, [.. prompt.Skip(1), 1], context);
        using var one = features.narrow(0, Prefix - 1, 1);
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
            best = Math.Min(best, DeviceClock.Time(device, () => tree = drafter.Draft(state, one, [2], context)));
        return (best, tree);
    }

    // Everything a round does besides drafting and the verify forward: load the tree, accept, compact the KV cache.
    private static double MeasureBookkeeping(LlamaForCausalLM target, DraftTree tree)
    {
        var device = target.Device;
        using var cache = target.NewCache(Prefix + tree.Count);
        using var logits = randn([tree.Count, target.Config.VocabSize], ScalarType.Float32, device);
        using var buffers = new TreeBuffers(tree.Count, cache.Capacity, device);
        using var offset = ((long)Prefix).ToScalar();
        double best = double.MaxValue;
        for (int i = 0; i < 6; i++)
        {
            using var scope = NewDisposeScope();                                    // freed after the timing
            double ms = DeviceClock.Time(device, () =>
            {
                cache.Truncate(0);
                cache.Advance(Prefix + tree.Count);
                buffers.Load(tree.OnDevice(device), Prefix);
                var accepted = Acceptance.Greedy(tree, logits);
                cache.Compact(Prefix, accepted.DeviceNodes!.Plus(offset));
            });
            if (i > 0) best = Math.Min(best, ms);                                   // the first is a warm-up
        }
        return best;
    }
}

/// <summary>
/// What the smallest speculative round costs: one head step over a one-node beam, and the bookkeeping of a two-token
/// tree (see <see cref="SpeculationCosts.Small"/>); and the beam width and tree size the full-size figures were measured
/// at, between which the costs are interpolated.
/// </summary>
internal sealed record SmallRoundCosts(double DraftStepMs, double OverheadMs, int FullBeamWidth, int FullTreeTokens);
