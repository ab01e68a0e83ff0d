using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;

namespace Eagle.AI.Engine.Llama;

/// <summary>Named shapes: tiny test models (real LLaMA-3 vocabulary, so the real tokenizer works) and real model sizes for benchmarks.</summary>
internal static class LlamaPresets
{
    private static readonly JsonElement Bos = JsonSerializer.SerializeToElement(128000);
    private static readonly JsonElement Eos = JsonSerializer.SerializeToElement(new[] { 128001, 128008, 128009 });
    private static readonly RopeScaling Llama31Rope = new()
    {
        RopeType = "llama3", Factor = 8.0, LowFreqFactor = 1.0, HighFreqFactor = 4.0, OriginalMaxPositionEmbeddings = 8192,
    };

    private static LlamaConfig Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, bool tied, int? headDim = null) => new()
    {
        Architectures = ["LlamaForCausalLM"],
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeadsRaw = kvHeads,
        HeadDimRaw = headDim,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        RopeScaling = Llama31Rope,
        MaxPositionEmbeddings = 131072,
        VocabSize = 128256,
        TieWordEmbeddings = tied,
        BosTokenIdRaw = Bos,
        EosTokenIdRaw = Eos,
        TorchDtype = "float32",
    };

    /// <summary>The preset names <see cref="Get"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names = ["tiny", "small", "llama3-1b", "llama3-3b", "llama3-8b"];

    /// <summary>The config of a named shape.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Unknown name.</exception>
    public static LlamaConfig Get(string name) => name switch
    {
        "tiny" => Shape(64, 192, 8, 4, 2, tied: false),
        "small" => Shape(256, 768, 8, 8, 2, tied: false),
        "llama3-1b" => Shape(2048, 8192, 16, 32, 8, tied: true, headDim: 64) with { RopeScaling = Llama31Rope with { Factor = 32 } },
        "llama3-3b" => Shape(3072, 8192, 28, 24, 8, tied: true, headDim: 128) with { RopeScaling = Llama31Rope with { Factor = 32 } },
        "llama3-8b" => Shape(4096, 14336, 32, 32, 8, tied: false),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"unknown preset; one of {string.Join(", ", Names)}"),
    };
}
