using System.Text.Json;
using System.Text.Json.Serialization;
using Eagle.AI.Engine.Checkpoints;

namespace Eagle.AI.Engine.Drafting;

/// <summary>Which EAGLE draft-head architecture a checkpoint holds.</summary>
public enum EagleHeadKind
{
    /// <summary>EAGLE-1 (also used by EAGLE-2): <c>fc</c> over [embedding, final-norm feature], one decoder layer, the target's lm_head.</summary>
    Eagle1,
    /// <summary>EAGLE-3: <c>fc</c> fusing three residual-stream features, a <c>midlayer</c> over 2H inputs, its own lm_head over a draft vocabulary.</summary>
    Eagle3,
}

/// <summary>
/// The <c>config.json</c> of an EAGLE draft head, bound field for field (the reference's <c>EConfig</c>). A head is one
/// LLaMA decoder layer, so the same keys as <see cref="LlamaConfig"/> describe it, plus the EAGLE extras
/// (<c>draft_vocab_size</c>, <c>bias</c>, <c>eagle_aux_hidden_state_layer_ids</c>).
/// </summary>
public sealed record EagleHeadConfig
{
    /// <summary><c>architectures</c> (informational).</summary>
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    /// <summary><c>model_type</c> (informational; <c>llama</c> in the reference).</summary>
    [JsonPropertyName("model_type")] public string? ModelType { get; init; }
    /// <summary>Residual width; must equal the target's.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    /// <summary>SwiGLU inner width of the head's layer.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    /// <summary>Decoder layers in the head; only 1 is supported (absent = 1).</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 1;
    /// <summary>Query heads of the head's attention.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads; defaults to <see cref="NumAttentionHeads"/>.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeadsRaw { get; init; }
    /// <summary>Per-head width when given (the reference always uses hidden / heads).</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimRaw { get; init; }
    /// <summary>Activation; only <c>silu</c>.</summary>
    [JsonPropertyName("hidden_act")] public string? HiddenAct { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    /// <summary>
    /// The head's RoPE base. The reference uses <c>rope_theta</c> when the key exists, else 10000 (EAGLE-3 configs omit
    /// it); it is never the target's llama3-scaled RoPE.
    /// </summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    /// <summary>Must be absent or null: the reference head applies plain RoPE.</summary>
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }
    /// <summary>The trained context length (informational: the head's RoPE is not limited by it).</summary>
    [JsonPropertyName("max_position_embeddings")] public int? MaxPositionEmbeddings { get; init; }
    /// <summary>Target vocabulary size; must equal the target's.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    /// <summary>EAGLE-3: rows of the head's own lm_head (absent = <see cref="VocabSize"/>, no mapping).</summary>
    [JsonPropertyName("draft_vocab_size")] public int? DraftVocabSizeRaw { get; init; }
    /// <summary>EAGLE-1: whether <c>fc</c> has a bias (absent = true, as in the reference).</summary>
    [JsonPropertyName("bias")] public bool? BiasRaw { get; init; }
    /// <summary>
    /// EAGLE-3: the target layers whose residual-stream inputs are fused (the vLLM/SpecForge key); absent = the
    /// reference's [2, N/2, N−3].
    /// </summary>
    [JsonPropertyName("eagle_aux_hidden_state_layer_ids")] public int[]? AuxHiddenStateLayerIds { get; init; }
    /// <summary>EAGLE-3: the target's width when it differs from the head's (unsupported unless equal).</summary>
    [JsonPropertyName("target_hidden_size")] public int? TargetHiddenSize { get; init; }
    /// <summary>The dtype the weights were saved in.</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }

    /// <summary>Key/value heads.</summary>
    [JsonIgnore] public int NumKeyValueHeads => NumKeyValueHeadsRaw ?? NumAttentionHeads;
    /// <summary>Per-head width.</summary>
    [JsonIgnore] public int HeadDim => HeadDimRaw ?? (NumAttentionHeads > 0 ? HiddenSize / NumAttentionHeads : 0);
    /// <summary>Rows of the head's lm_head (EAGLE-3) or the target vocabulary (EAGLE-1).</summary>
    [JsonIgnore] public int DraftVocabSize => DraftVocabSizeRaw ?? VocabSize;
    /// <summary>Whether the EAGLE-1 <c>fc</c> has a bias.</summary>
    [JsonIgnore] public bool Bias => BiasRaw ?? true;

    /// <summary>Reads and validates <c>config.json</c> in <paramref name="folderOrFile"/>.</summary>
    /// <exception cref="CheckpointException">The file is missing, malformed, or describes an unsupported head.</exception>
    public static EagleHeadConfig Load(string folderOrFile)
    {
        var (config, path) = ConfigJson.Read<EagleHeadConfig>(folderOrFile);
        config.Validate(path);
        return config;
    }

    /// <summary>Writes this config as <c>config.json</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder) => ConfigJson.Write(this, folder);

    /// <summary>Checks that the sizes are usable and nothing unsupported is asked for.</summary>
    /// <exception cref="CheckpointException">Names <paramref name="source"/> and the offending key.</exception>
    public void Validate(string source)
    {
        void Need(bool ok, string what)
        {
            if (!ok) throw new CheckpointException(source, null, what);
        }
        Need(HiddenSize > 0, "hidden_size must be > 0");
        Need(IntermediateSize > 0, "intermediate_size must be > 0");
        Need(NumHiddenLayers == 1, $"num_hidden_layers is {NumHiddenLayers}; EAGLE heads have exactly 1 layer");
        Need(NumAttentionHeads > 0, "num_attention_heads must be > 0");
        Need(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        Need(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be even and > 0");
        Need(HiddenAct is null or "silu", $"unsupported hidden_act '{HiddenAct}': only silu");
        Need(RmsNormEps > 0, "rms_norm_eps must be > 0");
        Need(RopeTheta > 0, "rope_theta must be > 0");
        Need(RopeScaling is null || RopeScaling.Value.ValueKind == JsonValueKind.Null,
            "rope_scaling must be absent or null: EAGLE heads use plain RoPE (the reference cannot apply a scaled one)");
        Need(VocabSize > 0, "vocab_size must be > 0");
        Need(DraftVocabSize > 0 && DraftVocabSize <= VocabSize,
            $"draft_vocab_size ({DraftVocabSize}) must be in [1, vocab_size = {VocabSize}]");
        Need(AuxHiddenStateLayerIds is null || AuxHiddenStateLayerIds.Length == 3,
            $"eagle_aux_hidden_state_layer_ids must list 3 layers, not {AuxHiddenStateLayerIds?.Length}");
    }

    /// <summary>
    /// Tells the head kind from the checkpoint's keys: <c>midlayer.*</c> or <c>d2t</c> → EAGLE-3; <c>layers.0.*</c>
    /// with <c>fc.weight</c> [H, 2H] → EAGLE-1; otherwise a <c>draft_vocab_size</c> in the config → EAGLE-3.
    /// </summary>
    /// <exception cref="CheckpointException">Neither layout matches.</exception>
    internal EagleHeadKind DetectKind(IReadOnlyDictionary<string, TensorInfo> tensors, string source)
    {
        if (tensors.ContainsKey("d2t") || tensors.Keys.Any(k => k.StartsWith("midlayer.", StringComparison.Ordinal)))
            return EagleHeadKind.Eagle3;
        if (tensors.Keys.Any(k => k.StartsWith("layers.0.", StringComparison.Ordinal))
            && tensors.TryGetValue("fc.weight", out var fc) && fc.Shape is [_, var inputs] && inputs == 2L * HiddenSize)
            return EagleHeadKind.Eagle1;
        if (DraftVocabSizeRaw is not null) return EagleHeadKind.Eagle3;
        throw new CheckpointException(source, null,
            $"not an EAGLE head: expected midlayer.* or d2t (EAGLE-3), or layers.0.* with fc.weight [{HiddenSize}, {2 * HiddenSize}] (EAGLE-1)");
    }

    /// <summary>
    /// The target layers an EAGLE-3 head with this config fuses, ascending: <see cref="AuxHiddenStateLayerIds"/> if
    /// given, else [2, N/2, N−3].
    /// </summary>
    public int[] CaptureLayers(LlamaConfig target) =>
        AuxHiddenStateLayerIds is { } ids ? [.. ids.Order()] : target.Eagle3CaptureLayers;

    /// <summary>
    /// A config for a new head of <paramref name="kind"/> shaped like one layer of <paramref name="target"/> (used to
    /// create random test heads). EAGLE-3 targets with fewer than 6 layers, whose default capture layers
    /// [2, N/2, N−3] are not distinct, get explicit <c>eagle_aux_hidden_state_layer_ids</c> [0, N/2, N−1].
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A draft vocabulary outside [1, V], or an EAGLE-3 target with fewer than 3 layers.</exception>
    public static EagleHeadConfig ForTarget(LlamaConfig target, EagleHeadKind kind, int? draftVocabSize = null, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(target);
        var config = new EagleHeadConfig
        {
            Architectures = ["LlamaForCausalLM"],
            ModelType = "llama",
            HiddenSize = target.HiddenSize,
            IntermediateSize = target.IntermediateSize,
            NumAttentionHeads = target.NumAttentionHeads,
            NumKeyValueHeadsRaw = target.NumKeyValueHeads,
            HeadDimRaw = target.HeadDim == target.HiddenSize / target.NumAttentionHeads ? null : target.HeadDim,
            HiddenAct = "silu",
            RmsNormEps = target.RmsNormEps,
            VocabSize = target.VocabSize,
        };
        if (kind == EagleHeadKind.Eagle1)
            return config with { BiasRaw = bias, RopeTheta = target.RopeTheta };

        int vd = draftVocabSize ?? target.VocabSize;
        if (vd < 1 || vd > target.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(draftVocabSize), vd, $"the draft vocabulary must be in [1, {target.VocabSize}]");
        int n = target.NumHiddenLayers;
        if (n < 3)
            throw new ArgumentOutOfRangeException(nameof(target), n, "an EAGLE-3 head needs a target with at least 3 layers");
        int[] layers = target.Eagle3CaptureLayers;
        bool distinct = layers[0] < layers[1] && layers[1] < layers[2];
        return config with
        {
            DraftVocabSizeRaw = vd,
            AuxHiddenStateLayerIds = distinct ? null : [0, n / 2, n - 1],
        };
    }
}
