using System.CommandLine;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>eagle train-draft --model &lt;dir&gt; --out &lt;dir&gt;</c>: fits an EAGLE-3 head to a (small) target's own greedy
/// outputs with the training-time test (the head also learns from its own unrolled drafts, as drafting deeper in the
/// tree uses it), so a test model gets a draft head. Not a substitute for the released heads.
/// </summary>
internal static class TrainDraftCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "target model folder", Required = true };
        var output = new Option<string>("--out") { Description = "folder to write the head into", Required = true };
        var sequences = new Option<int>("--sequences") { Description = "greedy training sequences", DefaultValueFactory = _ => 96 };
        var newTokens = new Option<int>("--new-tokens") { Description = "greedy tokens per sequence", DefaultValueFactory = _ => 28 };
        var steps = new Option<int>("--steps") { Description = "AdamW steps", DefaultValueFactory = _ => 300 };
        var draftVocab = new Option<int?>("--draft-vocab") { Description = "draft vocabulary size (default min(V, 4096)): the most frequent target tokens" };
        var unroll = new Option<int>("--unroll-steps")
        {
            Description = $"training-time-test draft steps per position, 1..{TrainingOptions.MaxUnrollSteps} (1 = teacher forcing only)",
            DefaultValueFactory = _ => new TrainingOptions().UnrollSteps,
        };
        var seed = new Option<long>("--seed") { Description = "random seed", DefaultValueFactory = _ => 1 };
        var cmd = new Command("train-draft", "Train an EAGLE-3 head on a target's own outputs (for test models)")
        {
            model, output, sequences, newTokens, steps, unroll, draftVocab, seed,
        };
        cmd.SetAction(r => Cli.Run(() =>
        {
            Eagle.AI.Engine.Runtime.TorchRuntime.EnsureInitialized();
            using var target = LlamaCheckpoint.Load(r.GetValue(model)!, ScalarType.Float32, CPU, Cli.LoadProgress("model"));
            long s = r.GetValue(seed);
            Console.Error.WriteLine($"generating {r.GetValue(sequences)} greedy sequences…");
            var data = EagleTrainer.GreedySequences(target, r.GetValue(sequences), 4, r.GetValue(newTokens), s);
            int vd = r.GetValue(draftVocab) ?? Math.Min(target.Config.VocabSize, 4096);
            using var head = Eagle3Head.CreateRandom(target, s + 1, vd, lmHeadScale: 1.0);
            head.SetDraftToTarget(EagleTrainer.DraftVocabulary(data, vd, target.Config.VocabSize));
            int total = r.GetValue(steps);
            int unrollSteps = r.GetValue(unroll);
            if (unrollSteps < 1 || unrollSteps > TrainingOptions.MaxUnrollSteps)
                throw new ArgumentException($"--unroll-steps must be in [1, {TrainingOptions.MaxUnrollSteps}], not {unrollSteps}");
            var report = EagleTrainer.Train(head, data, new TrainingOptions { Steps = total, Seed = s, UnrollSteps = unrollSteps }, (step, loss) =>
            {
                if (step % 25 == 0 || step == total - 1) Console.Error.WriteLine($"step {step + 1}/{total}  loss {loss:F3}");
            });
            head.Save(r.GetValue(output)!);
            Console.WriteLine($"wrote EAGLE-3 head ({head.ParameterCount:N0} parameters, draft vocabulary {vd}) to {Path.GetFullPath(r.GetValue(output)!)}; " +
                              $"training top-1 agreement with the target by draft depth {string.Join(", ", report.StepAccuracies.Select(a => a.ToString("P1")))}");
            return 0;
        }));
        return cmd;
    }
}
