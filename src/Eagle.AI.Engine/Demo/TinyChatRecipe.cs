using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Demo;

/// <summary>
/// How the tiny chat demo model is made: a tiny LLaMA-3.1-layout target (the real 128,256-token vocabulary and
/// tokenizer) overfitted on CPU to the conversations of <see cref="TinyChatScript"/>, and an EAGLE-3 head trained on it
/// with the training-time test. Random weights never answer or call a tool; this model does, so a first run and the
/// end-to-end tests can show the real engine with speculation on. Seeded, fp32 and on one thread, so every machine
/// builds the same weights; a build that does not reproduce every scripted answer greedily fails.
/// </summary>
internal static class TinyChatRecipe
{
    private const long Seed = 20261128;
    private static readonly TrainingOptions TargetTraining = new() { Steps = 500, LearningRate = 4e-3, SequencesPerStep = 4, Seed = Seed };
    // The training-time test (4 unrolled draft steps) is what makes the head accepted past the first draft token.
    private static readonly TrainingOptions HeadTraining = new() { Steps = 300, LearningRate = 3e-3, SequencesPerStep = 4, Seed = Seed + 1, UnrollSteps = 4 };
    private const int DraftVocabulary = 1024;

    /// <summary>The draft head's folder inside a built model folder.</summary>
    public const string DraftFolderName = "draft";

    /// <summary>A small draft tree: enough for the trained head to be accepted several tokens deep, cheap on two cores.</summary>
    public static TreeSettings Tree { get; } = new() { TotalTokens = 12, Depth = 5, TopK = 3 };

    /// <summary>What a build reports (also written to <c>built.json</c>).</summary>
    /// <param name="Seconds">Wall time of the build.</param>
    /// <param name="TargetLoss">The target's last training loss.</param>
    /// <param name="TargetAccuracy">The target's first-token accuracy on the script.</param>
    /// <param name="HeadLoss">The head's last training loss.</param>
    /// <param name="HeadAgreement">The head's agreement with the target in training.</param>
    internal sealed record BuildReport(double Seconds, double TargetLoss, double TargetAccuracy, double HeadLoss, double HeadAgreement);

    /// <summary>
    /// A short hash of the training data and settings (for a cache folder name): a changed script or recipe never
    /// reuses a stale model.
    /// </summary>
    /// <param name="tokenizer">The LLaMA-3.1 tokenizer the script is rendered with.</param>
    public static string Hash(Llama3Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var text = new StringBuilder();
        text.Append(FormattableString.Invariant($"{Seed} {TargetTraining} {HeadTraining} {DraftVocabulary} {JsonSerializer.Serialize(LlamaPresets.Get("tiny"))}\n"));
        text.Append("optimizer: Eagle.AI AdamW\n");                    // the trainers stopped using TorchSharp's AdamW
        foreach (var s in TinyChatCorpus.Render(tokenizer, TinyChatCorpus.Conversations()))
            text.Append(string.Join(',', s.Ids)).Append('|').Append(string.Concat(s.Learn!.Select(b => b ? '1' : '0'))).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..12];
    }

    /// <summary>Every scripted answer: the prompt (ending with the open assistant header) and the ids the model continues it with.</summary>
    public static IReadOnlyList<(int[] Prompt, int[] Answer)> ScriptedAnswers(Llama3Tokenizer tokenizer) =>
        [.. TinyChatCorpus.Checks(tokenizer, TinyChatCorpus.Conversations()).Select(c => (c.Prompt, c.Expected))];

    /// <summary>
    /// Trains the model and its head and writes them to <paramref name="folder"/> (created; <c>config.json</c>,
    /// <c>model.safetensors</c>, the tokenizer files, <c>draft/</c> and <c>built.json</c>). Runs on one libtorch thread.
    /// </summary>
    /// <param name="folder">Where the model goes.</param>
    /// <param name="tokenizerFolder">A folder with the LLaMA-3.1 <c>tokenizer.json</c> (and <c>tokenizer_config.json</c>).</param>
    /// <param name="progress">Called with a line of progress now and then.</param>
    /// <exception cref="FileNotFoundException">The tokenizer is missing.</exception>
    /// <exception cref="InvalidOperationException">The model did not learn its script.</exception>
    public static BuildReport Build(string folder, string tokenizerFolder, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        TorchRuntime.EnsureInitialized();
        var tokenizer = Llama3Tokenizer.Load(Path.Combine(tokenizerFolder, "tokenizer.json"));
        var conversations = TinyChatCorpus.Conversations();
        var sequences = TinyChatCorpus.Render(tokenizer, conversations);
        // One thread: the checks pin what these exact sums produce, and two-thread kernels crawl on a busy machine.
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            Directory.CreateDirectory(folder);
            var clock = Stopwatch.StartNew();
            using var target = LlamaFactory.CreateRandom(LlamaPresets.Get("tiny"), seed: Seed, ScalarType.Float32, CPU);
            var fit = LlamaTrainer.Train(target, sequences, TargetTraining, Progress(progress, "target", TargetTraining.Steps, clock));
            var failures = TinyChatCorpus.Checks(tokenizer, conversations)
                .Where(check => !Answer(target, check.Prompt, check.Expected.Length).SequenceEqual(check.Expected))
                .Select(check => tokenizer.Decode(check.Expected))
                .ToList();
            if (failures.Count > 0)
                throw new InvalidOperationException(
                    $"The tiny chat model did not learn its script ({failures.Count} answers wrong, training accuracy {fit.FirstTokenAccuracy:P1}, " +
                    $"last loss {fit.Losses[^1]:F4}); first wrong: '{failures[0]}'.");
            LlamaCheckpoint.Save(target, folder);

            int vd = Math.Min(DraftVocabulary, target.Config.VocabSize);
            using var head = Eagle3Head.CreateRandom(target, Seed + 2, vd, lmHeadScale: 1.0);
            head.SetDraftToTarget(EagleTrainer.DraftVocabulary(sequences.Select(s => s.Ids), vd, target.Config.VocabSize));
            var headFit = EagleTrainer.Train(head, sequences.Select(s => s.Ids).ToList(), HeadTraining, Progress(progress, "draft head", HeadTraining.Steps, clock));
            head.Save(Path.Combine(folder, DraftFolderName));

            WriteTokenizer(folder, tokenizerFolder);
            var report = new BuildReport(clock.Elapsed.TotalSeconds, fit.Losses[^1], fit.FirstTokenAccuracy, headFit.Losses[^1], headFit.FirstTokenAccuracy);
            File.WriteAllText(Path.Combine(folder, "built.json"), JsonSerializer.Serialize(report));
            return report;
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    /// <summary>
    /// Copies <c>tokenizer.json</c> and <c>tokenizer_config.json</c> from <paramref name="tokenizerFolder"/> into
    /// <paramref name="folder"/> and adds <c>original/tokenizer.model</c> (tiktoken ranks, as Meta ships them): the
    /// loader prefers it and reads it several times faster.
    /// </summary>
    public static void WriteTokenizer(string folder, string tokenizerFolder)
    {
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(tokenizerFolder, file), Path.Combine(folder, file), overwrite: true);
        var tokenizer = Llama3Tokenizer.Load(Path.Combine(tokenizerFolder, "tokenizer.json"));
        Directory.CreateDirectory(Path.Combine(folder, "original"));
        using var writer = new StreamWriter(Path.Combine(folder, "original", "tokenizer.model"));
        for (int id = 0; id < Llama3SpecialTokens.BaseVocabularySize; id++)
            writer.Write($"{Convert.ToBase64String(tokenizer.GetTokenBytes(id))} {id}\n");
    }

    private static Action<int, double> Progress(Action<string>? progress, string what, int steps, Stopwatch clock) => (step, loss) =>
    {
        if (progress is not null && ((step + 1) % 50 == 0 || step + 1 == steps))
            progress(FormattableString.Invariant($"tiny chat model: {what} step {step + 1}/{steps}, loss {loss:F4}, {clock.Elapsed.TotalSeconds:F0} s"));
    };

    private static int[] Answer(LlamaForCausalLM target, int[] prompt, int length) =>
        [.. new VanillaGenerator(target).Generate(prompt, new GenerationOptions { MaxNewTokens = length, StopTokenIds = [] }).OutputIds];
}
