using Eagle.AI.Engine.Runtime;
using System.Diagnostics;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// What a speculative round costs on this device, measured once at load: the target's forward time as a function of
/// the tokens it verifies (<see cref="Verify"/>), one draft-head step (<see cref="DraftStepMs"/>: a head forward over a
/// beam and its top-k), and the round's bookkeeping (<see cref="RoundOverheadMs"/>: tree mask, acceptance, KV
/// compaction). <see cref="SpeculationPolicy"/> weighs them against the acceptance it observes.
/// </summary>
internal sealed record SpeculationCosts(VerifyCostCurve Verify, double DraftStepMs, double RoundOverheadMs)
{
    /// <summary>One plain decode step: a one-token target forward.</summary>
    public double StepMs => Verify.Milliseconds(1);

    /// <summary>A whole round of <paramref name="budget"/>: Depth + 1 head steps, the verify forward, the bookkeeping.</summary>
    public double RoundMs(TreeBudget budget) =>
        (budget.Depth + 1) * DraftStepMs + Verify.Milliseconds(budget.TotalTokens) + RoundOverheadMs;

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
        var (draftRoundMs, tree) = MeasureDraft(target, drafter);
        int depth = drafter.Tree.Kind == TreeKind.Static ? tree.DepthBound - 1 : drafter.Tree.Depth;
        double overhead = MeasureBookkeeping(target, tree);
        return new SpeculationCosts(curve, draftRoundMs / (depth + 1), overhead);
    }

    private static (double Ms, DraftTree Tree) MeasureDraft(LlamaForCausalLM target, EagleDrafter drafter)
    {
        using var noGrad = no_grad();
        const int prefix = 32;
        var device = target.Device;
        var random = new Random(3);
        int[] prompt = Enumerable.Range(0, prefix).Select(_ => random.Next(target.Config.VocabSize)).ToArray();
        using var cache = target.NewCache(prefix);
        Tensor features;
        using (var scope = NewDisposeScope())
        {
            var request = new ForwardRequest(CaptureLayers: drafter.Features.CaptureLayers, FinalHidden: drafter.Features.FinalHidden);
            using var o = target.Forward(tensor(prompt.Select(t => (long)t).ToArray(), device: device),
                HeldScalars.Range(0, prefix, device), cache, null, request);
            features = (o.Captured ?? o.FinalHidden!).clone().DetachFromDisposeScope();
        }
        using var _ = features;
        var context = new DraftContext(false, new Random(1));
        const int repeats = 4;
        using var state = drafter.Begin(prefix + repeats + 2);
        var tree = drafter.Draft(state, features, [.. prompt.Skip(1), 1], context);
        using var one = features.narrow(0, prefix - 1, 1);
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            Synchronize(device);
            var clock = Stopwatch.StartNew();
            tree = drafter.Draft(state, one, [2], context);
            Synchronize(device);
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
        }
        return (best, tree);
    }

    // Everything a round does besides drafting and the verify forward: load the tree, accept, compact the KV cache.
    private static double MeasureBookkeeping(LlamaForCausalLM target, DraftTree tree)
    {
        using var noGrad = no_grad();
        const int prefix = 32;
        var device = target.Device;
        using var cache = target.NewCache(prefix + tree.Count);
        using var logits = randn([tree.Count, target.Config.VocabSize], ScalarType.Float32, device);
        using var buffers = new TreeBuffers(tree.Count, cache.Capacity, device);
        using var offset = ((long)prefix).ToScalar();
        double best = double.MaxValue;
        for (int i = 0; i < 6; i++)
        {
            using var scope = NewDisposeScope();
            Synchronize(device);
            var clock = Stopwatch.StartNew();
            cache.Truncate(0);
            cache.Advance(prefix + tree.Count);
            buffers.Load(tree.OnDevice(device), prefix);
            var accepted = Acceptance.Greedy(tree, logits);
            cache.Compact(prefix, accepted.DeviceNodes!.Plus(offset));
            Synchronize(device);
            if (i > 0) best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
        }
        return best;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
