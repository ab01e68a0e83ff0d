using System.Diagnostics;
using Eagle.AI.Engine.Demo;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Testing;

/// <summary>
/// The tiny chat demo model (<see cref="TinyChatRecipe"/>: a tiny target overfitted to <see cref="TinyChatScript"/> and
/// a trained EAGLE-3 head) for end-to-end tests that run the real engine with speculation on. Built once, seeded,
/// under <c>&lt;repo&gt;/.cache/tiny-chat-&lt;recipe hash&gt;</c> (a file lock makes concurrent test processes wait for one
/// builder); a build that does not reproduce every scripted answer greedily fails instead of caching.
/// </summary>
public static class TinyChatModel
{
    /// <summary>The model id <see cref="Options"/> gives the client.</summary>
    public const string ModelId = "tiny-chat";

    private static readonly Lazy<string> s_folder = new(GetOrBuild);

    /// <summary>The model folder: config.json, model.safetensors, tokenizer files, draft/.</summary>
    public static string Folder => s_folder.Value;

    /// <summary>The EAGLE-3 head's folder.</summary>
    public static string DraftFolder => Path.Combine(Folder, TinyChatRecipe.DraftFolderName);

    /// <summary>The folder holding Eagle.AI.sln.</summary>
    public static string RepoRoot => TestRepository.Root;

    /// <summary>A small draft tree: enough for a trained head to be accepted several tokens deep, cheap on two cores.</summary>
    public static TreeSettings Tree => TinyChatRecipe.Tree;

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
    public static IReadOnlyList<(int[] Prompt, int[] Answer)> ScriptedAnswers() =>
        TinyChatRecipe.ScriptedAnswers(Llama3Tokenizer.Load(TestRepository.TokenizerFolder));

    private static string GetOrBuild()
    {
        TorchRuntime.EnsureInitialized();
        var tokenizer = Llama3Tokenizer.Load(TestRepository.TokenizerFolder);
        string folder = Path.Combine(TestRepository.CacheFolder, "tiny-chat-" + TinyChatRecipe.Hash(tokenizer));
        string marker = Path.Combine(folder, "built.json");
        if (File.Exists(marker)) return folder;

        Directory.CreateDirectory(TestRepository.CacheFolder);
        using var gate = AcquireLock(Path.Combine(TestRepository.CacheFolder, "tiny-chat.lock"));
        if (File.Exists(marker)) return folder;                        // another process built it while we waited
        string building = folder + ".building-" + Environment.ProcessId;
        if (Directory.Exists(building)) Directory.Delete(building, recursive: true);
        try
        {
            // The first test run on a machine waits for this build: say on stderr what it is doing.
            TinyChatRecipe.Build(building, TestRepository.TokenizerFolder, Console.Error.WriteLine);
        }
        catch
        {
            if (Directory.Exists(building)) Directory.Delete(building, recursive: true); // leave no half-built model behind
            throw;
        }
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); // an interrupted build of the same recipe
        Directory.Move(building, folder);
        return folder;
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
}
