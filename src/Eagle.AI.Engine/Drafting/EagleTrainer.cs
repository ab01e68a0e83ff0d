using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>Knobs of <see cref="EagleTrainer"/>.</summary>
public sealed record TrainingOptions
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
}

/// <summary>Loss per step, for progress reports and tests.</summary>
public sealed record TrainingReport(IReadOnlyList<double> Losses, double FirstTokenAccuracy);

/// <summary>
/// Fits an EAGLE head to a target's own outputs with AdamW and teacher forcing (spec §7 without the multi-step
/// training-time test): for a sequence s the target runs once (no grad) to give features f_t and distributions p_t;
/// the head reads (f_t, embedding of s_{t+1}) at draft position t and is trained with cross-entropy against p_{t+1}
/// restricted to the draft vocabulary. Small on purpose: enough to make tiny test pairs whose drafts are accepted.
/// </summary>
public static class EagleTrainer
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
    public static TrainingReport Train(EagleHead head, IReadOnlyList<int[]> sequences, TrainingOptions options, Action<int, double>? progress = null)
    {
        var examples = Prepare(head, sequences);
        var losses = TrainingLoop.Run(head.parameters().ToList(), options, examples.Count, i => Loss(head, examples[i]), progress);
        double accuracy = Accuracy(head, examples);
        foreach (var ex in examples) ex.Dispose();
        return new TrainingReport(losses, accuracy);
    }

    private sealed record Example(Tensor Hidden, Tensor NextIds, Tensor Positions, Tensor Mask, Tensor TargetProbs) : IDisposable
    {
        public void Dispose()
        {
            Hidden.Dispose(); NextIds.Dispose(); Positions.Dispose(); Mask.Dispose(); TargetProbs.Dispose();
        }
    }

    // One target forward per sequence: features of tokens 0..T−2 paired with tokens 1..T−1, and the target's
    // distribution at positions 1..T−1 (what follows each paired token) restricted to the draft vocabulary.
    private static List<Example> Prepare(EagleHead head, IReadOnlyList<int[]> sequences)
    {
        var target = head.Target;
        var device = head.Device;
        using var noGrad = no_grad();
        using var draftIds = arange(head.DraftVocabSize, ScalarType.Int64, device);
        using var used = head.ToTarget(draftIds);                                  // [Vd] target ids
        var result = new List<Example>();
        foreach (var s in sequences)
        {
            if (s.Length < 3) throw new ArgumentException("training sequences need at least 3 tokens", nameof(sequences));
            using var scope = NewDisposeScope();
            int T = s.Length;
            using var cache = target.NewCache(T);
            var ids = tensor(s.Select(t => (long)t).ToArray(), device: device);
            using var o = target.Forward(ids, arange(0, T, ScalarType.Int64, device), cache, null,
                new ForwardRequest(CaptureLayers: head.Features.CaptureLayers, FinalHidden: head.Features.FinalHidden));
            var features = head.Features.CaptureLayers is not null ? o.Captured! : o.FinalHidden!;
            var hidden = features.narrow(0, 0, T - 1).clone();                      // [T−1, F]
            var next = ids.narrow(0, 1, T - 1).clone();                             // [T−1]
            var probs = o.Logits.narrow(0, 1, T - 1).index_select(1, used).softmax(-1); // [T−1, Vd]
            var mask = ones([T - 1, T - 1], ScalarType.Bool, device).tril();
            var positions = arange(0, T - 1, ScalarType.Int64, device);
            var ex = new Example(hidden, next, positions, mask, probs);
            foreach (var t in new[] { hidden, next, probs, mask, positions }) t.DetachFromDisposeScope();
            result.Add(ex);
        }
        return result;
    }

    private static Tensor Loss(EagleHead head, Example ex)
    {
        using var cache = head.NewCache((int)ex.NextIds.shape[0]);
        var x = head.Forward(ex.Hidden, ex.NextIds, ex.Positions, ex.Mask, cache); // [T−1, H]
        var logp = head.LogProbs(x);                                                // [T−1, Vd]
        return -(ex.TargetProbs * logp).sum(-1).mean();
    }

    // How often the head's top draft is the target's top token (over the draft vocabulary) — a proxy for acceptance.
    private static double Accuracy(EagleHead head, List<Example> examples)
    {
        using var noGrad = no_grad();
        long hit = 0, n = 0;
        foreach (var ex in examples)
        {
            using var scope = NewDisposeScope();
            using var cache = head.NewCache((int)ex.NextIds.shape[0]);
            var x = head.Forward(ex.Hidden, ex.NextIds, ex.Positions, ex.Mask, cache);
            var guess = head.LogProbs(x).argmax(-1);
            var truth = ex.TargetProbs.argmax(-1);
            hit += guess.eq(truth).sum().item<long>();
            n += truth.shape[0];
        }
        return (double)hit / n;
    }
}
