using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.GpuPath;

/// <summary>
/// A reference folder as tools/gpu/reference.py writes it, made by the engine itself: one checkpoint subfolder (the
/// shape of reference.py's first checkpoint: GQA 4/2, head_dim 32 ≠ 64/4, llama3 RoPE, untied, 7 layers) with its
/// config.json, model.safetensors and reference.json.
/// </summary>
internal sealed class ReferenceFixture : IDisposable
{
    public const string Name = "gqa-llama3-untied";

    public static readonly LlamaConfig Config = new()
    {
        Architectures = ["LlamaForCausalLM"], HiddenSize = 64, IntermediateSize = 160, NumHiddenLayers = 7,
        NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2, HeadDimRaw = 32, VocabSize = 512, RopeTheta = 500000,
        RopeScaling = new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 64 },
        TieWordEmbeddings = false, EosTokenIdRaw = System.Text.Json.JsonSerializer.SerializeToElement(2),
    };

    private readonly Cli.TempDir dir = new();

    public ReferenceFixture()
    {
        Directory.CreateDirectory(Folder);
        using var model = LlamaFactory.CreateRandom(Config, 11, ScalarType.Float32, CPU);
        LlamaCheckpoint.Save(model, Folder);
        int[] ids = TestModels.RandomPrompt(new Random(4), 12, Config.VocabSize);
        int[] layers = Config.Eagle3CaptureLayers.Distinct().Order().ToArray();
        Reference = ReferenceFile.Capture(model, ids, layers, 32, "engine (test fixture)");
        Reference.Save(ReferencePath);
    }

    /// <summary>The folder to pass as --reference.</summary>
    public string Root => dir.Path;

    /// <summary>The checkpoint subfolder.</summary>
    public string Folder => Path.Combine(dir.Path, Name);

    public string ReferencePath => Path.Combine(Folder, ReferenceFile.FileName);

    /// <summary>What was written to reference.json.</summary>
    public ReferenceFile Reference { get; }

    public void Dispose() => dir.Dispose();
}
