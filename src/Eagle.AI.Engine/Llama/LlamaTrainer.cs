using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Drafting;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// A token sequence to learn, with the positions whose next token is scored: <see cref="Learn"/>[i] = true trains the
/// model to predict <see cref="Ids"/>[i + 1] after reading <see cref="Ids"/>[0..i] (null = every position).
/// </summary>
internal sealed record LearnedSequence(int[] Ids, bool[]? Learn = null);

/// <summary>
/// Fits a (tiny) target to token sequences with AdamW and next-token cross-entropy, so test models can say something
/// (answers, tool calls) instead of random tokens. Only the decoder layers and the final norm learn: the embedding and
/// lm_head keep their random values, which already tell 128k tokens apart (a hidden state along one lm_head row makes
/// that token the argmax), and leaving those two 128k-row tables out of the gradient and the optimiser is what makes
/// training a real-vocabulary model take seconds. Logits are computed only at the scored positions.
/// </summary>
internal static class LlamaTrainer
{
    /// <summary>Trains <paramref name="model"/> in place; returns the summed loss per step and the final greedy accuracy on the scored positions.</summary>
    /// <exception cref="ArgumentException">A sequence is shorter than 2 tokens, its mask has the wrong length, or it scores nothing.</exception>
    public static TrainingReport Train(LlamaForCausalLM model, IReadOnlyList<LearnedSequence> sequences, TrainingOptions options, Action<int, double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var examples = sequences.Select(s => Example.Create(s, model.Device)).ToList();
        var parameters = model.model.layers.parameters().Concat(model.model.norm.parameters()).ToList();
        var losses = TrainingLoop.Run(parameters, options, examples.Count, i => Logits(model, examples[i], out var targets)
            .log_softmax(-1).gather(1, targets.unsqueeze(1)).mean().neg(), progress);
        double accuracy = Accuracy(model, examples);
        foreach (var ex in examples) ex.Dispose();
        return new TrainingReport(losses, accuracy);
    }

    private static Tensor Logits(LlamaForCausalLM model, Example ex, out Tensor targets)
    {
        int n = (int)ex.Ids.shape[0];
        using var cache = model.NewCache(n);
        using var output = model.Forward(ex.Ids, HeldScalars.Range(0, n, model.Device), cache, null, new ForwardRequest(LogitRows: ex.Rows));
        targets = ex.Targets;
        return output.Logits.alias();
    }

    private static double Accuracy(LlamaForCausalLM model, List<Example> examples)
    {
        using var noGrad = no_grad();
        long hit = 0, count = 0;
        foreach (var ex in examples)
        {
            using var scope = NewDisposeScope();
            var guess = Logits(model, ex, out var targets).argmax(-1);
            hit += guess.eq(targets).sum().item<long>();
            count += targets.shape[0];
        }
        return (double)hit / count;
    }

    private sealed record Example(Tensor Ids, Tensor Rows, Tensor Targets) : IDisposable
    {
        public static Example Create(LearnedSequence s, Device device)
        {
            if (s.Ids.Length < 2) throw new ArgumentException("training sequences need at least 2 tokens", nameof(s));
            if (s.Learn is { } learn && learn.Length != s.Ids.Length)
                throw new ArgumentException($"Learn has {learn.Length} entries for {s.Ids.Length} ids", nameof(s));
            long[] rows = Enumerable.Range(0, s.Ids.Length - 1).Where(i => s.Learn?[i] ?? true).Select(i => (long)i).ToArray();
            if (rows.Length == 0) throw new ArgumentException("a training sequence scores no position", nameof(s));
            return new Example(
                tensor(s.Ids.Select(t => (long)t).ToArray(), device: device),
                tensor(rows, device: device),
                tensor(rows.Select(i => (long)s.Ids[i + 1]).ToArray(), device: device));
        }

        public void Dispose()
        {
            Ids.Dispose(); Rows.Dispose(); Targets.Dispose();
        }
    }
}
