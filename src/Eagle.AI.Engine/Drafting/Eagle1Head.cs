using Eagle.AI.Engine.Llama;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// The EAGLE-1 draft head (also EAGLE-2's). Field names are the checkpoint keys (<c>fc</c>, <c>layers.0.*</c>). It reads
/// the target's final-norm hidden state, fuses it with the next token's embedding through <c>fc</c>, runs one decoder
/// layer and predicts with the target's own lm_head (no norm before it), over the full target vocabulary.
/// </summary>
internal sealed class Eagle1Head : EagleHead
{
    /// <summary>[H, 2H], with a bias [H] when the config's <c>bias</c> is true (the default).</summary>
    public readonly Linear fc;
    /// <summary>One decoder layer (<c>layers.0</c>).</summary>
    public readonly ModuleList<Eagle1DecoderLayer> layers;

    /// <summary>Creates an uninitialised head for <paramref name="target"/> (see <see cref="EagleHead.Load"/> and <see cref="CreateRandom"/>).</summary>
    /// <exception cref="DraftModelMismatchException">The head does not fit the target.</exception>
    internal Eagle1Head(EagleHeadConfig config, LlamaForCausalLM target, bool ownEmbedding, string? path, Device? device = null)
        : base(nameof(Eagle1Head), config, target, ownEmbedding, path, device)
    {
        int h = config.HiddenSize;
        fc = nn.Linear(2 * h, h, hasBias: config.Bias, device: Device, dtype: DType);
        foreach (var p in fc.parameters()) p.requires_grad = false; // inference only, like the target's projections
        layers = new ModuleList<Eagle1DecoderLayer>(new Eagle1DecoderLayer(config, DType, Device));
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override EagleHeadKind Kind => EagleHeadKind.Eagle1;
    /// <inheritdoc/>
    public override int DraftVocabSize => Config.VocabSize;
    /// <inheritdoc/>
    internal override FeatureRequest Features => new(null, FinalHidden: true);
    /// <inheritdoc/>
    public override int FeatureSize => HiddenSize;

    private protected override Tensor Layer(Tensor x, Tensor emb, Tensor cos, Tensor sin, PackedSequences batch)
    {
        using var scope = NewDisposeScope();
        if (x.shape[^1] != HiddenSize)
            throw new ArgumentException($"hidden inputs must be [n, {HiddenSize}], not width {x.shape[^1]}");
        var f = fc.forward(cat([emb, x], -1));                                     // [1, n, 2H] → [1, n, H]; embedding first
        return layers[0].forward(f, cos, sin, batch).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    internal override Tensor LogProbs(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = nn.functional.linear(x, TargetLmHead);                 // [n, V]; no norm before the head
        return logits.to(ScalarType.Float32).log_softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>A head with seeded random weights (see <see cref="RandomWeights"/>) for tests and benchmarks.</summary>
    public static Eagle1Head CreateRandom(LlamaForCausalLM target, long seed, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(target);
        var config = EagleHeadConfig.ForTarget(target.Config, EagleHeadKind.Eagle1, bias: bias);
        var head = new Eagle1Head(config, target, ownEmbedding: false, path: null);
        try
        {
            RandomWeights.Initialize(head, 1, seed);
            return head;
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }
}
