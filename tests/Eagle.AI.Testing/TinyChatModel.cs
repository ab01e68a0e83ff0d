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

namespace Eagle.AI.Testing;

/// <summary>
/// A tiny LLaMA-3.1-layout target (the real 128,256-token vocabulary and tokenizer files) overfitted on CPU to the
/// conversations of <see cref="TinyChatScript"/>, with an EAGLE-3 head trained on it: random weights never answer or
/// call a tool, this model does, so end-to-end tests can run the real engine with speculation on. Built once, seeded,
/// under <c>&lt;repo&gt;/.cache/tiny-chat-&lt;recipe hash&gt;</c> (a file lock makes concurrent test processes wait for one
/// builder); a build that does not reproduce every scripted answer greedily fails instead of caching.
/// </summary>
public static class TinyChatModel
{
    /// <summary>The model id <see cref="Options"/> gives the client.</summary>
    public const string ModelId = "tiny-chat";

    private const long Seed = 20261128;
    private static readonly TrainingOptions TargetTraining = new() { Steps = 500, LearningRate = 4e-3, SequencesPerStep = 4, Seed = Seed };
    // The training-time test (4 unrolled draft steps) is what makes the head accepted past the first draft token.
    private static readonly TrainingOptions HeadTraining = new() { Steps = 300, LearningRate = 3e-3, SequencesPerStep = 4, Seed = Seed + 1, UnrollSteps = 4 };
    private const int DraftVocabulary = 1024;

    private static readonly Lazy<string> s_folder = new(GetOrBuild);

    /// <summary>The model folder: config.json, model.safetensors, tokenizer files, draft/.</summary>
    public static string Folder => s_folder.Value;

    /// <summary>The EAGLE-3 head's folder.</summary>
    public static string DraftFolder => Path.Combine(Folder, "draft");

    /// <summary>The folder holding Eagle.AI.sln.</summary>
    public static string RepoRoot => TestRepository.Root;

    /// <summary>A small draft tree: enough for a trained head to be accepted several tokens deep, cheap on two cores.</summary>
    public static TreeSettings Tree { get; } = new() { TotalTokens = 12, Depth = 5, TopK = 3 };

    /// <summary>CPU, fp32, this model, and its draft head (<paramref name="speculative"/>) with <see cref="Tree"/>.</summary>
    public static EagleOptions Options(bool speculative = true) => new()
    {
        ModelPath = Folder,
        DraftModelPath = speculative ? DraftFolder : null,
        ModelId = ModelId,
        Device = "cpu",
        DType = "float32",
        Tree = Tree,
    };

    /// <summary>Every scripted answer: the prompt (ending with the open assistant header) and the ids the model continues it with.</summary>
    public static IReadOnlyList<(int[] Prompt, int[] Answer)> ScriptedAnswers()
    {
        var tokenizer = Llama3Tokenizer.Load(TestRepository.TokenizerFolder);
        return TinyChatCorpus.Checks(tokenizer, TinyChatCorpus.Conversations()).Select(c => (c.Prompt, c.Expected)).ToList();
    }

    private static string GetOrBuild()
    {
        TorchRuntime.EnsureInitialized();
        var tokenizer = Llama3Tokenizer.Load(TestRepository.TokenizerFolder);
        var conversations = TinyChatCorpus.Conversations();
        var sequences = TinyChatCorpus.Render(tokenizer, conversations);
        string folder = Path.Combine(TestRepository.CacheFolder, "tiny-chat-" + RecipeHash(sequences));
        string marker = Path.Combine(folder, "built.json");
        if (File.Exists(marker)) return folder;

        Directory.CreateDirectory(TestRepository.CacheFolder);
        using var gate = AcquireLock(Path.Combine(TestRepository.CacheFolder, "tiny-chat.lock"));
        if (File.Exists(marker)) return folder;                        // another process built it while we waited
        string building = folder + ".building-" + Environment.ProcessId;
        if (Directory.Exists(building)) Directory.Delete(building, recursive: true);
        // One thread: two-thread kernels crawl when the machine is oversubscribed (parallel test processes), and the
        // checks below pin what these exact sums produced.
        int threads = get_num_threads();
        set_num_threads(1);
        BuildReport report;
        try
        {
            report = Build(building, tokenizer, conversations, sequences);
        }
        catch
        {
            if (Directory.Exists(building)) Directory.Delete(building, recursive: true); // leave no half-built model behind
            throw;
        }
        finally
        {
            set_num_threads(threads);
        }
        File.WriteAllText(Path.Combine(building, "built.json"), JsonSerializer.Serialize(report));
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); // an interrupted build of the same recipe
        Directory.Move(building, folder);
        return folder;
    }

    private static BuildReport Build(string folder, Llama3Tokenizer tokenizer, List<ScriptedConversation> conversations, List<LearnedSequence> sequences)
    {
        var clock = Stopwatch.StartNew();
        using var target = LlamaFactory.CreateRandom(LlamaPresets.Get("tiny"), seed: Seed, ScalarType.Float32, CPU);
        var fit = LlamaTrainer.Train(target, sequences, TargetTraining, Progress("target", TargetTraining.Steps, clock));
        var failures = TinyChatCorpus.Checks(tokenizer, conversations)
            .Where(check => !Answer(target, check.Prompt, check.Expected.Length).SequenceEqual(check.Expected))
            .Select(check => tokenizer.Decode(check.Expected))
            .ToList();
        if (failures.Count > 0)
            throw new InvalidOperationException(
                $"The tiny chat model did not learn its script ({failures.Count} answers wrong, training accuracy {fit.FirstTokenAccuracy:P1}, " +
                $"last loss {fit.Losses[^1]:F4}); first wrong: '{failures[0]}'. Raise the training steps in {nameof(TinyChatModel)}.");
        LlamaCheckpoint.Save(target, folder);

        int vd = Math.Min(DraftVocabulary, target.Config.VocabSize);
        using var head = Eagle3Head.CreateRandom(target, Seed + 2, vd, lmHeadScale: 1.0);
        head.SetDraftToTarget(EagleTrainer.DraftVocabulary(sequences.Select(s => s.Ids), vd, target.Config.VocabSize));
        var headFit = EagleTrainer.Train(head, sequences.Select(s => s.Ids).ToList(), HeadTraining, Progress("draft head", HeadTraining.Steps, clock));
        head.Save(Path.Combine(folder, "draft"));

        TokenizerFiles.CopyInto(folder);
        return new BuildReport(clock.Elapsed.TotalSeconds, fit.Losses[^1], fit.FirstTokenAccuracy, headFit.Losses[^1], headFit.FirstTokenAccuracy);
    }

    // The first test run on a machine waits for this build: say on stderr what it is doing.
    private static Action<int, double> Progress(string what, int steps, Stopwatch clock) => (step, loss) =>
    {
        if ((step + 1) % 50 == 0 || step + 1 == steps)
            Console.Error.WriteLine(FormattableString.Invariant($"tiny chat model: {what} step {step + 1}/{steps}, loss {loss:F4}, {clock.Elapsed.TotalSeconds:F0} s"));
    };

    private static int[] Answer(LlamaForCausalLM target, int[] prompt, int length) =>
        [.. new VanillaGenerator(target).Generate(prompt, new GenerationOptions { MaxNewTokens = length, StopTokenIds = [] }).OutputIds];

    // The folder name follows the training data and settings, so a changed script never reuses a stale model.
    private static string RecipeHash(List<LearnedSequence> sequences)
    {
        var text = new StringBuilder();
        text.Append(FormattableString.Invariant($"{Seed} {TargetTraining} {HeadTraining} {DraftVocabulary} {JsonSerializer.Serialize(LlamaPresets.Get("tiny"))}\n"));
        text.Append("optimizer: Eagle.AI AdamW\n");                    // the trainers stopped using TorchSharp's AdamW
        foreach (var s in sequences)
            text.Append(string.Join(',', s.Ids)).Append('|').Append(string.Concat(s.Learn!.Select(b => b ? '1' : '0'))).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..12];
    }

    private static FileStream AcquireLock(string path)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); // never deleted: a deleted lock file could be locked twice
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromMinutes(20))
            {
                Thread.Sleep(500);                                     // another test process is building the model
            }
        }
    }

    private sealed record BuildReport(double Seconds, double TargetLoss, double TargetAccuracy, double HeadLoss, double HeadAgreement);
}
