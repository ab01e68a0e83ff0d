using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// The EAGLE-3 draft head. Field names are the checkpoint keys (<c>fc</c>, <c>midlayer.*</c>, <c>norm</c>,
/// <c>lm_head</c>, <c>d2t</c>). It fuses the residual-stream inputs of three target layers with <c>fc</c>, runs
/// <see cref="Eagle3DecoderLayer"/>, and predicts over its own draft vocabulary of Vd tokens, which <c>d2t</c> maps
/// into the target's (target id = draft id + d2t[draft id]).
/// </summary>
internal sealed class Eagle3Head : EagleHead
{
    /// <summary>[H, 3H], no bias: fuses the low, middle and high features.</summary>
    public readonly Projection fc;
    /// <summary>The decoder layer.</summary>
    public readonly Eagle3DecoderLayer midlayer;
    /// <summary>[H], before lm_head only (outputs fed back are pre-norm).</summary>
    public readonly RMSNorm norm;
    /// <summary>[Vd, H]</summary>
    public readonly Projection lm_head;
    /// <summary>int64 [Vd]: draft id i is target id i + d2t[i]. A non-persistent buffer: the state-dict loader reads floating tensors only, so it is read and saved separately.</summary>
    public readonly Tensor d2t;

    private readonly int[] captureLayers;
    private long[] d2tHost;

    /// <summary>Creates an uninitialised head for <paramref name="target"/> (see <see cref="EagleHead.Load"/> and <see cref="CreateRandom"/>).</summary>
    /// <exception cref="DraftModelMismatchException">The head does not fit the target.</exception>
    internal Eagle3Head(EagleHeadConfig config, LlamaForCausalLM target, bool ownEmbedding, string? path, Device? device = null)
        : base(nameof(Eagle3Head), config, target, ownEmbedding, path, device)
    {
        captureLayers = config.CaptureLayers(target.Config);
        int n = target.Config.NumHiddenLayers;
        if (captureLayers.Distinct().Count() != 3 || captureLayers.Any(l => l < 0 || l >= n))
            throw new DraftModelMismatchException(path,
                $"capture layers [{string.Join(", ", captureLayers)}] must be 3 distinct layers of the target's {n}"
                + (config.AuxHiddenStateLayerIds is null ? " (the default [2, N/2, N-3] is not; set eagle_aux_hidden_state_layer_ids)" : ""));
        int h = config.HiddenSize;
        fc = new Projection(3 * h, h, DType, Device);
        midlayer = new Eagle3DecoderLayer(config, DType, Device);
        norm = new RMSNorm(h, config.RmsNormEps, DType, Device);
        lm_head = new Projection(h, config.DraftVocabSize, DType, Device);
        d2t = zeros(config.DraftVocabSize, ScalarType.Int64, Device);
        d2tHost = new long[config.DraftVocabSize];
        register_buffer(nameof(d2t), d2t, persistent: false);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override EagleHeadKind Kind => EagleHeadKind.Eagle3;
    /// <inheritdoc/>
    public override int DraftVocabSize => Config.DraftVocabSize;
    /// <inheritdoc/>
    internal override FeatureRequest Features => new([.. captureLayers], FinalHidden: false);
    /// <inheritdoc/>
    public override int FeatureSize => 3 * HiddenSize;

    /// <summary>The target layers whose residual-stream inputs this head fuses, ascending.</summary>
    public IReadOnlyList<int> CaptureLayers => captureLayers;

    private protected override Tensor Layer(Tensor x, Tensor emb, Tensor cos, Tensor sin, PackedSequences batch)
    {
        using var scope = NewDisposeScope();
        long width = x.shape[^1];
        if (width != HiddenSize && width != FeatureSize)
            throw new ArgumentException($"hidden inputs must be [n, {FeatureSize}] target features or [n, {HiddenSize}] draft outputs, not width {width}");
        var f = width == HiddenSize ? x : fc.forward(x);                             // fc only for 3H target features
        return midlayer.forward(emb, f, cos, sin, batch).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    internal override Tensor LogProbs(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = lm_head.forward(norm.forward(x));                             // [n, Vd]
        return logits.to(ScalarType.Float32).log_softmax(-1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    internal override Tensor ToTarget(Tensor draftIds)
    {
        using var flat = draftIds.reshape(-1);
        using var offsets = d2t.index_select(0, flat);
        using var mapped = flat.Plus(offsets);
        return mapped.view(draftIds.shape);
    }

    /// <inheritdoc/>
    internal override int ToTarget(int draftId) => checked((int)(draftId + d2tHost[draftId]));

    /// <summary>
    /// Sets the draft-to-target map from offsets [Vd] (d2t[i] = target id − i).
    /// </summary>
    /// <exception cref="DraftModelMismatchException">Some id maps outside the target vocabulary.</exception>
    public void SetDraftToTarget(long[] offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (offsets.Length != DraftVocabSize)
            throw new ArgumentException($"d2t must have {DraftVocabSize} entries, not {offsets.Length}", nameof(offsets));
        for (int i = 0; i < offsets.Length; i++)
        {
            long target = i + offsets[i];
            if (target < 0 || target >= Config.VocabSize)
                throw new DraftModelMismatchException(SourcePath,
                    $"d2t maps draft id {i} to target id {target}, outside the target vocabulary [0, {Config.VocabSize})");
        }
        using (no_grad())
        using (var values = tensor(offsets, device: Device))
            d2t.copy_(values);
        d2tHost = (long[])offsets.Clone();
        ForgetTargetIds();
    }

    private protected override ISet<string> IgnoredKeys => new HashSet<string>(StringComparer.Ordinal) { "t2d", "d2t" };

    private protected override void LoadExtras(ITensorSource source)
    {
        int vd = DraftVocabSize, v = Config.VocabSize;
        // Like the reference, a draft vocabulary equal to the target's means no mapping, whatever d2t holds.
        if (vd == v) return;
        if (!source.Tensors.TryGetValue("d2t", out var info))
            throw new CheckpointException(source.Path, "d2t",
                $"missing: a draft vocabulary of {vd} tokens (< vocab_size {v}) needs its draft-to-target map");
        if (info.Shape is not [var length] || length != vd)
            throw new CheckpointException(info.File, "d2t", $"shape [{string.Join(", ", info.Shape)}], expected [{vd}] (draft_vocab_size)");
        SetDraftToTarget(IntegerTensorReader.ReadInt64(source, "d2t"));
    }

    private protected override IEnumerable<KeyValuePair<string, Tensor>> ExtraTensors() => [new(nameof(d2t), d2t)];

    /// <summary>
    /// A head with seeded random weights (see <see cref="RandomWeights"/>) for tests and benchmarks. The draft
    /// vocabulary (default V/2) is a seeded random subset of the target's, sorted ascending, as the reference builds it
    /// from token frequencies; <c>d2t</c> maps it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="draftVocabSize"/> is outside [1, V], or the target has fewer than 3 layers.</exception>
    public static Eagle3Head CreateRandom(LlamaForCausalLM target, long seed, int? draftVocabSize = null, double lmHeadScale = 8.0)
    {
        ArgumentNullException.ThrowIfNull(target);
        int v = target.Config.VocabSize;
        int vd = draftVocabSize ?? Math.Max(1, v / 2);
        var config = EagleHeadConfig.ForTarget(target.Config, EagleHeadKind.Eagle3, vd);
        var head = new Eagle3Head(config, target, ownEmbedding: false, path: null);
        try
        {
            RandomWeights.Initialize(head, 1, seed, lmHeadScale);
            var ids = Enumerable.Range(0, v).ToArray();
            new Random(unchecked((int)(seed ^ (seed >> 32)))).Shuffle(ids);
            var used = ids.Take(vd).Order().ToArray();
            head.SetDraftToTarget(used.Select((u, i) => (long)(u - i)).ToArray());
            return head;
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }
}
