using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Text;
using Eagle.AI.Testing;
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
    public static string RepoRoot => TestRepository.Root;

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
        TokenizerFiles.CopyInto(folder);
        return folder;
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
