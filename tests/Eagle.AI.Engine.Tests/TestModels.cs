using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests;

/// <summary>Tiny target configs covering GQA (4/2, 8/1, 4/4), llama3 rope scaling on/off, tied/untied, head_dim ≠ H/heads.</summary>
internal static class TestModels
{
    private static readonly JsonElement Eos = JsonSerializer.SerializeToElement(new[] { 2 });

    public static readonly LlamaConfig A = new()
    {
        HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 2,
        VocabSize = 97, RopeTheta = 10000, TieWordEmbeddings = false, EosTokenIdRaw = Eos,
    };

    public static readonly LlamaConfig B = new()
    {
        HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 5, NumAttentionHeads = 8, NumKeyValueHeadsRaw = 1,
        HeadDimRaw = 12, VocabSize = 101, RopeTheta = 500000, TieWordEmbeddings = true, EosTokenIdRaw = Eos,
        RopeScaling = new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 16 },
    };

    public static readonly LlamaConfig C = new()
    {
        HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 8, NumAttentionHeads = 4, NumKeyValueHeadsRaw = 4,
        VocabSize = 128, RopeTheta = 500000, TieWordEmbeddings = false, EosTokenIdRaw = Eos,
        RopeScaling = new RopeScaling { Type = "llama3", Factor = 4, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 32 },
    };

    public static readonly TheoryData<string> Names = new() { "A", "B", "C" };

    public static LlamaConfig Get(string name) => name switch { "A" => A, "B" => B, "C" => C, _ => throw new ArgumentException(name) };

    public static LlamaForCausalLM Create(string name, long seed = 1, double lmHeadScale = 8.0) =>
        LlamaFactory.CreateRandom(Get(name), seed, ScalarType.Float32, CPU, lmHeadScale);

    /// <summary>A target with a vocabulary of 8 for exact-distribution sampling tests (tree top-k clamps to it).</summary>
    public static readonly LlamaConfig TinyVocab = new()
    {
        HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, NumKeyValueHeadsRaw = 1,
        VocabSize = 8, RopeTheta = 10000, EosTokenIdRaw = Eos,
    };

    /// <summary>A 32-position cache of <paramref name="target"/> holding <paramref name="prefix"/>, prefilled in one forward.</summary>
    internal static KVCache Prefilled(LlamaForCausalLM target, int[] prefix)
    {
        var cache = target.NewCache(32);
        using var ids = tensor(prefix.Select(t => (long)t).ToArray());
        using var pos = HeldScalars.Range(0, prefix.Length);
        target.Forward(ids, pos, cache, null, ForwardRequest.AllLogits).Dispose();
        return cache;
    }

    public static int[] RandomPrompt(Random r, int length, int vocab) =>
        Enumerable.Range(0, length).Select(_ => r.Next(3, vocab)).ToArray(); // avoid the eos id 2
}
