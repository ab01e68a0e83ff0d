using System.Text.Json;
using System.Text.Json.Serialization;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>The <c>rope_scaling</c> block of a LLaMA-3.1 <c>config.json</c> (<c>rope_type: llama3</c>).</summary>
public sealed record RopeScaling
{
    /// <summary><c>rope_type</c> (or the older <c>type</c>); only <c>llama3</c> and <c>default</c> are supported.</summary>
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }
    /// <summary>Older spelling of <see cref="RopeType"/>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    /// <summary>How much longer the context is than the original.</summary>
    [JsonPropertyName("factor")] public double Factor { get; init; } = 8.0;
    /// <summary>Wavelengths longer than original/low_freq_factor are divided by <see cref="Factor"/>.</summary>
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; init; } = 1.0;
    /// <summary>Wavelengths shorter than original/high_freq_factor are kept.</summary>
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; init; } = 4.0;
    /// <summary>The context length the model was first trained for.</summary>
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; init; } = 8192;

    /// <summary>The effective rope type (<c>rope_type</c>, else <c>type</c>, else <c>default</c>).</summary>
    [JsonIgnore] public string Kind => RopeType ?? Type ?? "default";
}

/// <summary>
/// A Hugging Face <c>config.json</c> of <c>LlamaForCausalLM</c>, bound field for field. Derived sizes are properties,
/// so nothing in a forward pass needs a literal that is not here.
/// </summary>
public sealed record LlamaConfig
{
    /// <summary><c>architectures</c>; must contain <c>LlamaForCausalLM</c> when present.</summary>
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    /// <summary><c>model_type</c>; <c>llama</c>.</summary>
    [JsonPropertyName("model_type")] public string? ModelType { get; init; } = "llama";
    /// <summary>Residual stream width.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    /// <summary>SwiGLU inner width.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    /// <summary>Number of decoder layers.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    /// <summary>Query heads.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads (GQA); defaults to <see cref="NumAttentionHeads"/>.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeadsRaw { get; init; }
    /// <summary>Per-head width when given; may differ from hidden/heads.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimRaw { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    /// <summary>RoPE base.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    /// <summary>RoPE scaling (LLaMA-3.1), or null for plain RoPE.</summary>
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    /// <summary>The trained context length (not the KV capacity: see <c>KVCache</c>).</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 8192;
    /// <summary>Vocabulary size (rows of the embedding).</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    /// <summary>Whether lm_head shares the embedding matrix.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    /// <summary>Begin-of-text id.</summary>
    [JsonPropertyName("bos_token_id")] public JsonElement? BosTokenIdRaw { get; init; }
    /// <summary>End ids: an int or a list in the file.</summary>
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenIdRaw { get; init; }
    /// <summary>The dtype the weights were saved in.</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }

    /// <summary>Key/value heads.</summary>
    [JsonIgnore] public int NumKeyValueHeads => NumKeyValueHeadsRaw ?? NumAttentionHeads;
    /// <summary>Per-head width.</summary>
    [JsonIgnore] public int HeadDim => HeadDimRaw ?? HiddenSize / NumAttentionHeads;
    /// <summary>Query heads per key/value head.</summary>
    [JsonIgnore] public int GroupSize => NumAttentionHeads / NumKeyValueHeads;
    /// <summary>BOS id, or null.</summary>
    [JsonIgnore] public int? BosTokenId => Ids(BosTokenIdRaw).Cast<int?>().FirstOrDefault();
    /// <summary>All EOS ids (LLaMA-3.1 Instruct: 128001, 128008, 128009).</summary>
    [JsonIgnore] public IReadOnlyList<int> EosTokenIds => Ids(EosTokenIdRaw);
    /// <summary>Layers whose residual-stream inputs EAGLE-3 fuses: 2, N/2, N−3 (low → high).</summary>
    [JsonIgnore] public int[] Eagle3CaptureLayers => [2, NumHiddenLayers / 2, NumHiddenLayers - 3];

    private static int[] Ids(JsonElement? e) => e switch
    {
        { ValueKind: JsonValueKind.Number } n => [n.GetInt32()],
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        _ => [],
    };

    /// <summary>Reads and validates <c>config.json</c> in <paramref name="folderOrFile"/>.</summary>
    /// <exception cref="CheckpointException">The file is missing, malformed, or describes an unsupported model.</exception>
    public static LlamaConfig Load(string folderOrFile)
    {
        var (config, path) = ConfigJson.Read<LlamaConfig>(folderOrFile);
        config.Validate(path);
        return config;
    }

    /// <summary>Writes this config as <c>config.json</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder) => ConfigJson.Write(this, folder);

    /// <summary>Checks that the sizes are usable and the architecture and rope type are supported.</summary>
    public void Validate(string source)
    {
        void Need(bool ok, string what)
        {
            if (!ok) throw new CheckpointException(source, null, what);
        }
        Need(Architectures is null || Architectures.Contains("LlamaForCausalLM"),
            $"unsupported architecture '{string.Join(",", Architectures ?? [])}': only LlamaForCausalLM");
        Need(ModelType is null or "llama", $"unsupported model_type '{ModelType}': only llama");
        Need(HiddenSize > 0, "hidden_size must be > 0");
        Need(IntermediateSize > 0, "intermediate_size must be > 0");
        Need(NumHiddenLayers > 0, "num_hidden_layers must be > 0");
        Need(NumAttentionHeads > 0, "num_attention_heads must be > 0");
        Need(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        Need(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be even and > 0");
        Need(VocabSize > 0, "vocab_size must be > 0");
        Need(RmsNormEps > 0, "rms_norm_eps must be > 0");
        Need(RopeTheta > 0, "rope_theta must be > 0");
        string rope = RopeScaling?.Kind ?? "default";
        Need(rope is "default" or "llama3", $"unsupported rope_scaling type '{rope}': only llama3 or none");
        try
        {
            _ = EosTokenIds;
            _ = BosTokenId;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new CheckpointException(source, null, "bos_token_id/eos_token_id must be an int or a list of ints", e);
        }
    }
}
