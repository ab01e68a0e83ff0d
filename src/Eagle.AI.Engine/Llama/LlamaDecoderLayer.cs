using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>Pre-norm decoder block: h = x + attn(norm(x)); out = h + mlp(norm(h)).</summary>
internal sealed class LlamaDecoderLayer : nn.Module
{
    /// <summary>Attention.</summary>
    public readonly LlamaAttention self_attn;
    /// <summary>Feed-forward.</summary>
    public readonly LlamaMLP mlp;
    /// <summary>[H]</summary>
    public readonly RMSNorm input_layernorm;
    /// <summary>[H]</summary>
    public readonly RMSNorm post_attention_layernorm;
    private readonly int index;

    /// <summary>Creates an uninitialised layer number <paramref name="index"/> of <paramref name="c"/>.</summary>
    public LlamaDecoderLayer(Checkpoints.LlamaConfig c, int index, ScalarType dtype, Device device) : base(nameof(LlamaDecoderLayer))
    {
        this.index = index;
        self_attn = new LlamaAttention(c.HiddenSize, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, dtype, device);
        mlp = new LlamaMLP(c.HiddenSize, c.IntermediateSize, dtype, device);
        input_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        post_attention_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        RegisterComponents();
    }

    /// <summary>x [1, n, H] → [1, n, H]</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KVCache cache) =>
        forward(x, cos, sin, PackedSequences.One((int)x.shape[1], cache, mask));

    /// <summary>x [1, N, H] of the packed sequences in <paramref name="batch"/> → [1, N, H]</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, PackedSequences batch)
    {
        using var scope = NewDisposeScope();
        using var a = input_layernorm.forward(x);
        using var b = post_attention_layernorm.forward(x, self_attn.forward(a, cos, sin, batch, index), out var h); // h: the residual connection
        var y = h.Plus(mlp.forward(b));                                            // residual connection (out of place: autograd needs h)
        return y.MoveToOuterDisposeScope();
    }
}
