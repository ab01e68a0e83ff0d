using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

/// <summary>
/// The test that catches a mis-wired feature path (wrong layers, wrong order, wrong d2t): a head trained on the
/// target's own features must be accepted often on held-out prompts, and the output must still equal vanilla.
/// </summary>
public class TrainedHeadTests(Xunit.Abstractions.ITestOutputHelper output)
{
    internal static readonly LlamaConfig Target8 = new()
    {
        HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 8, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2,
        VocabSize = 256, RopeTheta = 10000, EosTokenIdRaw = System.Text.Json.JsonSerializer.SerializeToElement(new[] { 2 }),
    };

    [Fact]
    public void A_trained_eagle3_head_reaches_tau_above_1_5_on_held_out_prompts_and_stays_exact()
    {
        using var target = LlamaFactory.CreateRandom(Target8, seed: 5, ScalarType.Float32, CPU);
        var train = EagleTrainer.GreedySequences(target, count: 96, promptLength: 4, newTokens: 28, seed: 1);
        using var head = Eagle3Head.CreateRandom(target, seed: 3, draftVocabSize: 192, lmHeadScale: 1.0);
        head.SetDraftToTarget(EagleTrainer.DraftVocabulary(train, 192, target.Config.VocabSize));
        Assert.Equal([2, 4, 5], head.CaptureLayers);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = EagleTrainer.Train(head, train, new TrainingOptions { Steps = 300 });
        output.WriteLine($"training {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(report.Losses.TakeLast(20).Average() < report.Losses.Take(20).Average() * 0.8,
            $"loss {report.Losses.Take(20).Average():F3} → {report.Losses.TakeLast(20).Average():F3}");

        using var drafter = new EagleDrafter(head, new TreeSettings { TotalTokens = 16, Depth = 4, TopK = 4 }, ownsHead: false);
        var vanilla = new VanillaGenerator(target);
        var speculative = new SpeculativeGenerator(target, drafter);
        var options = new GenerationOptions { MaxNewTokens = 28, StopTokenIds = [] };
        var random = new Random(99); // held-out prompts: another seed than the training prompts
        double tokens = 0, rounds = 0;
        for (int i = 0; i < 20; i++)
        {
            int[] prompt = Enumerable.Range(0, 4).Select(_ => random.Next(target.Config.VocabSize)).ToArray();
            var r = speculative.Generate(prompt, options);
            Assert.Equal(vanilla.Generate(prompt, options).OutputIds, r.OutputIds);
            tokens += r.Stats.GeneratedTokens - 1;
            rounds += r.Stats.Rounds;
        }
        double tau = tokens / rounds;
        output.WriteLine($"τ = {tau:F2}, training accuracy {report.FirstTokenAccuracy:P1}, loss {report.Losses[0]:F3} → {report.Losses[^1]:F3}");
        Assert.True(tau > 1.5, $"τ = {tau:F2} (first-token accuracy in training {report.FirstTokenAccuracy:P0})");
    }
}
