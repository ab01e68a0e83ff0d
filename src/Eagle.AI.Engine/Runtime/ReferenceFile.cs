using System.Text.Json;
using System.Text.Json.Serialization;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// What a reference implementation computed for one checkpoint (<c>reference.json</c> beside it, written by
/// <c>tools/gpu/reference.py</c> from Hugging Face <c>transformers</c>): the logits of every input position, the hidden
/// states entering some layers, and a greedy continuation. Hidden state i is Hugging Face's
/// <c>output_hidden_states[i]</c>, the residual stream entering layer i, which is what the engine captures for EAGLE-3.
/// </summary>
internal sealed record ReferenceFile
{
    /// <summary>The value of <see cref="Format"/> this version reads and writes.</summary>
    public const string FormatName = "eagle-reference-v1";

    /// <summary>The file name inside a checkpoint folder.</summary>
    public const string FileName = "reference.json";

    /// <summary>Always <see cref="FormatName"/>.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;

    /// <summary>What produced it, e.g. "transformers 4.46.3, torch 2.5.1, cpu float32".</summary>
    [JsonPropertyName("source")] public string Source { get; init; } = "";

    /// <summary>The n input token ids.</summary>
    [JsonPropertyName("input_ids")] public int[] InputIds { get; init; } = [];

    /// <summary>[n][V] logits of every input position.</summary>
    [JsonPropertyName("logits")] public float[][] Logits { get; init; } = [];

    /// <summary>Ascending layer indices i whose input hidden states are in <see cref="HiddenStates"/>.</summary>
    [JsonPropertyName("hidden_state_layers")] public int[] HiddenStateLayers { get; init; } = [];

    /// <summary>[k][n][H]: the residual stream entering each layer of <see cref="HiddenStateLayers"/>.</summary>
    [JsonPropertyName("hidden_states")] public float[][][] HiddenStates { get; init; } = [];

    /// <summary>The greedy continuation after <see cref="InputIds"/> (new tokens only; no stop tokens applied).</summary>
    [JsonPropertyName("greedy_ids")] public int[] GreedyIds { get; init; } = [];

    /// <summary>Reads and checks a reference file.</summary>
    /// <exception cref="InvalidDataException">Not a reference file of this format, or its arrays disagree in shape.</exception>
    public static ReferenceFile Load(string path)
    {
        ReferenceFile? r;
        try
        {
            using var stream = File.OpenRead(path);
            r = JsonSerializer.Deserialize(stream, ReferenceJsonContext.Default.ReferenceFile);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        if (r is null || r.Format != FormatName)
            throw new InvalidDataException($"{path}: format '{r?.Format}', expected '{FormatName}'");
        r.Validate(path);
        return r;
    }

    /// <summary>Writes the file as compact JSON.</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, this, ReferenceJsonContext.Default.ReferenceFile);
    }

    private void Validate(string path)
    {
        int n = InputIds.Length;
        if (n == 0) throw new InvalidDataException($"{path}: input_ids is empty");
        if (Logits.Length != n) throw new InvalidDataException($"{path}: {Logits.Length} logit rows for {n} input ids");
        if (Logits.Any(r => r.Length != Logits[0].Length)) throw new InvalidDataException($"{path}: logit rows differ in length");
        if (HiddenStates.Length != HiddenStateLayers.Length)
            throw new InvalidDataException($"{path}: {HiddenStates.Length} hidden-state blocks for {HiddenStateLayers.Length} layers");
        foreach (var block in HiddenStates)
        {
            if (block.Length != n) throw new InvalidDataException($"{path}: a hidden-state block has {block.Length} rows for {n} input ids");
            if (block.Any(r => r.Length != block[0].Length)) throw new InvalidDataException($"{path}: hidden-state rows differ in length");
        }
    }

    /// <summary>
    /// Computes a reference file with the engine itself (the same quantities <c>reference.py</c> computes), e.g. to
    /// test the comparison or to compare two devices.
    /// </summary>
    public static ReferenceFile Capture(LlamaForCausalLM model, int[] inputIds, int[] layers, int greedyTokens, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(layers);
        var (logits, hidden) = ReferenceComparison.Forward(model, inputIds, layers);
        using (logits)
        using (hidden)
        {
            int h = model.Config.HiddenSize;
            var greedy = new VanillaGenerator(model).Generate(inputIds, new GenerationOptions { MaxNewTokens = greedyTokens, StopTokenIds = [] });
            return new ReferenceFile
            {
                Source = source,
                InputIds = inputIds,
                Logits = Rows(logits),
                HiddenStateLayers = layers,
                HiddenStates = layers.Select((_, i) => { using var block = hidden.narrow(1, (long)i * h, h); return Rows(block); }).ToArray(),
                GreedyIds = [.. greedy.OutputIds],
            };
        }
    }

    /// <summary>A [n, m] tensor as n rows of fp32 values.</summary>
    internal static float[][] Rows(Tensor t)
    {
        using var c = t.to(ScalarType.Float32, CPU).contiguous();
        var flat = c.data<float>().ToArray();
        int m = (int)c.shape[1];
        return Enumerable.Range(0, (int)c.shape[0]).Select(i => flat.AsSpan(i * m, m).ToArray()).ToArray();
    }
}

/// <summary>Source-generated JSON for <see cref="ReferenceFile"/> (works in trimmed builds without reflection).</summary>
[JsonSerializable(typeof(ReferenceFile))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class ReferenceJsonContext : JsonSerializerContext;
