using Eagle.AI.Engine.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>The AdamW loop both trainers share: seeded example order, gradients summed over a few examples per step.</summary>
internal static class TrainingLoop
{
    /// <summary>
    /// Runs <see cref="TrainingOptions.Steps"/> steps over <paramref name="exampleCount"/> examples, <paramref name="loss"/>
    /// giving example i's loss; only <paramref name="parameters"/> require grad while it runs. Returns the loss per step.
    /// </summary>
    public static List<double> Run(IReadOnlyList<Parameter> parameters, TrainingOptions options, int exampleCount, Func<int, Tensor> loss, Action<int, double>? progress)
    {
        foreach (var p in parameters) p.requires_grad_(true);
        var losses = new List<double>();
        try
        {
            using var optimizer = new AdamW(parameters, options.LearningRate, 0.9, 0.95, 1e-8, options.WeightDecay);
            var random = new Random((int)options.Seed);
            for (int step = 0; step < options.Steps; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.ZeroGrad();
                double total = 0;
                for (int b = 0; b < options.SequencesPerStep; b++)
                {
                    var l = loss(random.Next(exampleCount)).Over(options.SequencesPerStep);
                    l.backward();
                    total += l.item<float>();
                }
                optimizer.Step();
                losses.Add(total);
                progress?.Invoke(step, total);
            }
        }
        finally
        {
            foreach (var p in parameters) p.requires_grad_(false);
        }
        return losses;
    }
}
