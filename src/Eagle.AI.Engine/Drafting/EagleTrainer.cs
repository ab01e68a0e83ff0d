using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>Knobs of <see cref="EagleTrainer"/>.</summary>
internal sealed record TrainingOptions
{
    /// <summary>Optimiser steps.</summary>
    public int Steps { get; init; } = 400;
    /// <summary>AdamW learning rate.</summary>
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; }
    /// <summary>Sequences whose gradients are summed per step.</summary>
    public int SequencesPerStep { get; init; } = 4;
    /// <summary>Seed of the sequence order.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>
    /// EAGLE heads only: draft steps of the training-time test, in [1, <see cref="MaxUnrollSteps"/>]. Step 0 is teacher
    /// forcing on target features; each further step feeds the head its own previous outputs, as drafting deeper in the
    /// tree does (spec §7). 1 = teacher forcing only. The reference unrolls 7 steps; 4 keeps training cheap on CPU and
    /// covers the depths a small tree reaches.
    /// </summary>
    public int UnrollSteps { get; init; } = 4;
    /// <summary>EAGLE heads only: the loss of unrolled step j is weighted by StepDecay^j (the reference's 0.8), in (0, 1].</summary>
    public double StepDecay { get; init; } = 0.8;

    /// <summary>The largest <see cref="UnrollSteps"/> accepted.</summary>
    public const int MaxUnrollSteps = 16;
}

/// <summary>
/// Loss per step, for progress reports and tests, and the head's agreement with the target: top-1 over the draft
/// vocabulary at the first draft step and, for EAGLE heads, at every unrolled step (index 0 = the first).
/// </summary>
internal sealed record TrainingReport(IReadOnlyList<double> Losses, double FirstTokenAccuracy)
{
    /// <summary>Top-1 agreement at each unrolled draft step, given correct earlier drafts; empty for a target's training.</summary>
    public IReadOnlyList<double> StepAccuracies { get; init; } = [];
}

/// <summary>
/// Fits an EAGLE head to a target's own outputs with AdamW and EAGLE-3's training-time test (spec §7): for a sequence
/// s the target runs once (no grad) to give features f_t and distributions p_t. Step 0 is teacher forcing: the head
/// reads (f_t, embedding of s_{t+1}) at draft position t, causally, and is trained against p_{t+1} restricted to the
/// draft vocabulary. Step j ≥ 1 is what drafting at tree depth j + 1 does: at row t the head reads its own step j − 1
/// output with the embedding of s_{t+1+j}, at position t + j, attending to the step-0 K/V of positions ≤ t (the
/// committed prefix) and to its own chain at t (steps 1..j: its ancestors and itself), and is trained against
/// p_{t+1+j}. Losses are summed with weights <see cref="TrainingOptions.StepDecay"/>^j. Small on purpose: enough to
/// make tiny test pairs whose drafts are accepted several tokens deep.
/// </summary>
internal static class EagleTrainer
{
    /// <summary>
    /// Greedy continuations of random prompts: the kind of text a greedy benchmark will then ask the head to draft.
    /// </summary>
    public static List<int[]> GreedySequences(LlamaForCausalLM target, int count, int promptLength, int newTokens, long seed)
    {
        var random = new Random((int)seed);
        var gen = new VanillaGenerator(target);
        var options = new GenerationOptions { MaxNewTokens = newTokens, StopTokenIds = [] };
        var result = new List<int[]>();
        for (int i = 0; i < count; i++)
        {
            int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(target.Config.VocabSize)).ToArray();
            result.Add([.. prompt, .. gen.Generate(prompt, options).OutputIds]);
        }
        return result;
    }

    /// <summary>
    /// The reference's draft vocabulary choice: the <paramref name="size"/> target ids that occur most often as
    /// predicted tokens in <paramref name="sequences"/> (ties by id), sorted, as d2t offsets (d2t[i] = used[i] − i).
    /// </summary>
    public static long[] DraftVocabulary(IEnumerable<int[]> sequences, int size, int targetVocab)
    {
        var counts = new long[targetVocab];
        foreach (var s in sequences)
            foreach (int t in s.Skip(1)) counts[t]++;
        var used = Enumerable.Range(0, targetVocab).OrderByDescending(t => counts[t]).ThenBy(t => t).Take(size).Order().ToArray();
        return used.Select((t, i) => (long)(t - i)).ToArray();
    }

    /// <summary>Trains <paramref name="head"/> in place on <paramref name="sequences"/> (each at least 3 tokens).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="TrainingOptions.UnrollSteps"/> or <see cref="TrainingOptions.StepDecay"/> is out of range.</exception>
    public static TrainingReport Train(EagleHead head, IReadOnlyList<int[]> sequences, TrainingOptions options, Action<int, double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        var examples = Prepare(head, sequences);
        try
        {
            var losses = TrainingLoop.Run(head.parameters().ToList(), options, examples.Count,
                i => Loss(head, examples[i], options.UnrollSteps, options.StepDecay), progress);
            var accuracies = StepAccuracies(head, examples, options.UnrollSteps);
            return new TrainingReport(losses, accuracies[0]) { StepAccuracies = accuracies };
        }
        finally
        {
            foreach (var ex in examples) ex.Dispose();
        }
    }

    /// <summary>
    /// Top-1 agreement of <paramref name="head"/> with the target at each of <paramref name="steps"/> unrolled draft
    /// steps on <paramref name="sequences"/>, each step given correct earlier tokens: the chance that a draft at depth
    /// j + 1 is the target's greedy token once its ancestors were.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is outside [1, <see cref="TrainingOptions.MaxUnrollSteps"/>].</exception>
    public static IReadOnlyList<double> StepAccuracies(EagleHead head, IReadOnlyList<int[]> sequences, int steps)
    {
        ArgumentNullException.ThrowIfNull(head);
        Validate(new TrainingOptions { UnrollSteps = steps });
        var examples = Prepare(head, sequences);
        try
        {
            return StepAccuracies(head, examples, steps);
        }
        finally
        {
            foreach (var ex in examples) ex.Dispose();
        }
    }

    private static void Validate(TrainingOptions options)
    {
        if (options.UnrollSteps < 1 || options.UnrollSteps > TrainingOptions.MaxUnrollSteps)
            throw new ArgumentOutOfRangeException(nameof(options), options.UnrollSteps,
                $"{nameof(TrainingOptions.UnrollSteps)} must be in [1, {TrainingOptions.MaxUnrollSteps}]");
        if (!(options.StepDecay > 0 && options.StepDecay <= 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.StepDecay, $"{nameof(TrainingOptions.StepDecay)} must be in (0, 1]");
    }

    private sealed record Example(Tensor Hidden, Tensor NextIds, Tensor TargetProbs) : IDisposable
    {
        public void Dispose()
        {
            Hidden.Dispose(); NextIds.Dispose(); TargetProbs.Dispose();
        }
    }

    // One target forward per sequence: features of tokens 0..T−2 paired with tokens 1..T−1, and the target's
    // distribution at positions 1..T−1 (what follows each paired token) restricted to the draft vocabulary.
    private static List<Example> Prepare(EagleHead head, IReadOnlyList<int[]> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var target = head.Target;
        var device = head.Device;
        using var noGrad = no_grad();
        using var draftIds = HeldScalars.Range(head.DraftVocabSize, device);
        using var used = head.ToTarget(draftIds);                                  // [Vd] target ids
        var result = new List<Example>();
        try
        {
            foreach (var s in sequences)
            {
                if (s.Length < 3) throw new ArgumentException("training sequences need at least 3 tokens", nameof(sequences));
                using var scope = NewDisposeScope();
                int T = s.Length;
                using var cache = target.NewCache(T);
                var ids = tensor(s.Select(t => (long)t).ToArray(), device: device);
                using var o = target.Forward(ids, HeldScalars.Range(0, T, device), cache, null,
                    new ForwardRequest(CaptureLayers: head.Features.CaptureLayers, FinalHidden: head.Features.FinalHidden));
                var features = head.Features.CaptureLayers is not null ? o.Captured! : o.FinalHidden!;
                var hidden = features.narrow(0, 0, T - 1).clone();                      // [T−1, F]
                var next = ids.narrow(0, 1, T - 1).clone();                             // [T−1]
                var probs = o.Logits.narrow(0, 1, T - 1).index_select(1, used).softmax(-1); // [T−1, Vd]
                var ex = new Example(hidden, next, probs);
                foreach (var t in new[] { hidden, next, probs }) t.DetachFromDisposeScope();
                result.Add(ex);
            }
        }
        catch
        {
            foreach (var ex in result) ex.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// The training-time-test unroll over one sequence: <paramref name="hidden"/> [n, F] target features of tokens
    /// 0..n−1 and <paramref name="nextIds"/> [n] tokens 1..n. Returns the pre-norm outputs of each step j (at most
    /// <paramref name="steps"/>, while rows remain), [n − j, H], where row t is the draft at depth j + 1 below the
    /// committed prefix 0..t along the sequence's own tokens: exactly what <see cref="EagleDrafter"/> computes for that
    /// chain (step 0 = the committed forward's output at t; step j = the tree node fed at expansion step j − 1).
    /// </summary>
    internal static List<Tensor> Unroll(EagleHead head, Tensor hidden, Tensor nextIds, int steps)
    {
        using var scope = NewDisposeScope();
        var device = head.Device;
        int n = (int)nextIds.shape[0];
        var sizes = new List<int>();                                                // rows of each step: n − j
        var outputs = new List<Tensor>();
        var caches = new List<KVCache> { head.NewCache(n) };
        try
        {
            var x = hidden;
            for (int j = 0; j < steps && n - j > 0; j++)
            {
                int m = n - j;
                sizes.Add(m);
                if (j > 0) caches.Add(caches[^1].CopyWithCapacity(caches[^1].Length + m)); // see KVCache.CopyWithCapacity
                var cache = caches[^1];
                var ids = nextIds.narrow(0, j, m);                                      // row t reads s_{t+1+j}
                var positions = HeldScalars.Range(j, j + m, device);             // committed 0..t, then depth j: t + j
                var output = head.Forward(x.narrow(0, 0, m), ids, positions, StepMask(sizes, device), cache);
                cache.Advance(m);
                outputs.Add(output);
                x = output;                                                             // children continue from their parent's output
            }
        }
        finally
        {
            foreach (var c in caches) c.Dispose();                                  // autograd keeps what backward needs
        }
        foreach (var o in outputs) o.MoveToOuterDisposeScope();
        return outputs;
    }

    /// <summary>
    /// Who row t of the newest step sees among the K/V of steps 0..j (<paramref name="sizes"/>[i] rows each, laid out
    /// one step after another): step 0 at positions ≤ t (the committed prefix, causal) and row t of every later step
    /// (its ancestors along the chain, then itself). Bool [sizes[j], Σ sizes], true = attend.
    /// </summary>
    internal static Tensor StepMask(IReadOnlyList<int> sizes, Device device)
    {
        using var scope = NewDisposeScope();
        int m = sizes[^1];
        var rows = HeldScalars.Range(m, device).unsqueeze(1);
        var parts = new List<Tensor> { HeldScalars.Range(sizes[0], device).unsqueeze(0).le(rows) };
        for (int i = 1; i < sizes.Count; i++)
            parts.Add(eye(m, sizes[i], ScalarType.Bool, device));
        return cat(parts, 1).MoveToOuterDisposeScope();
    }

    private static Tensor Loss(EagleHead head, Example ex, int steps, double decay)
    {
        using var scope = NewDisposeScope();
        var outputs = Unroll(head, ex.Hidden, ex.NextIds, steps);
        Tensor? total = null;
        double weight = 1;
        for (int j = 0; j < outputs.Count; j++, weight *= decay)
        {
            var logp = head.LogProbs(outputs[j]);                                   // [n − j, Vd]
            var probs = ex.TargetProbs.narrow(0, j, outputs[j].shape[0]);           // row t: p_{t+1+j}
            using var w = weight.ToScalar();
            var step = (probs * logp).sum(-1).mean().mul(w);
            total = total is null ? step : total.Plus(step);
        }
        return total!.neg().MoveToOuterDisposeScope();
    }

    // How often the head's top draft is the target's top token (over the draft vocabulary) at each unrolled step.
    private static double[] StepAccuracies(EagleHead head, List<Example> examples, int steps)
    {
        using var noGrad = no_grad();
        var hit = new long[steps];
        var n = new long[steps];
        foreach (var ex in examples)
        {
            using var scope = NewDisposeScope();
            var outputs = Unroll(head, ex.Hidden, ex.NextIds, steps);
            for (int j = 0; j < outputs.Count; j++)
            {
                var guess = head.LogProbs(outputs[j]).argmax(-1);
                var truth = ex.TargetProbs.narrow(0, j, outputs[j].shape[0]).argmax(-1);
                hit[j] += guess.eq(truth).sum().item<long>();
                n[j] += truth.shape[0];
            }
        }
        return hit.Select((h, j) => n[j] == 0 ? 0 : (double)h / n[j]).ToArray();
    }
}
