using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// EAGLE-3's <c>midlayer</c>: a LLaMA decoder layer whose attention reads the normed token embedding and the normed
/// feature side by side (2H inputs), while the residual stream is the un-normed feature.
/// </summary>
internal sealed class Eagle3DecoderLayer : nn.Module
{
    /// <summary>[H], on the feature stream.</summary>
    public readonly RMSNorm hidden_norm;
    /// <summary>[H], on the token embedding.</summary>
    public readonly RMSNorm input_layernorm;
    /// <summary>q/k/v over 2H inputs.</summary>
    public readonly LlamaAttention self_attn;
    /// <summary>[H]</summary>
    public readonly RMSNorm post_attention_layernorm;
    /// <summary>Feed-forward.</summary>
    public readonly LlamaMLP mlp;

    /// <summary>Creates an uninitialised layer for <paramref name="c"/>.</summary>
    public Eagle3DecoderLayer(EagleHeadConfig c, ScalarType dtype, Device device) : base(nameof(Eagle3DecoderLayer))
    {
        hidden_norm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        input_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        self_attn = new LlamaAttention(2 * c.HiddenSize, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, dtype, device);
        post_attention_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        mlp = new LlamaMLP(c.HiddenSize, c.IntermediateSize, dtype, device);
        RegisterComponents();
    }

    /// <summary>emb, x [1, n, H] → [1, n, H]; writes K/V into layer 0 of each sequence's cache in <paramref name="batch"/>.</summary>
    public Tensor forward(Tensor emb, Tensor x, Tensor cos, Tensor sin, PackedSequences batch)
    {
        using var scope = NewDisposeScope();
        var a = cat([input_layernorm.forward(emb), hidden_norm.forward(x)], -1);   // [1, n, 2H]: embedding first
        var h = x.Plus(self_attn.forward(a, cos, sin, batch, 0));                // residual = the un-normed feature
        var y = h.Plus(mlp.forward(post_attention_layernorm.forward(h))); // out of place: autograd needs h
        return y.MoveToOuterDisposeScope();
    }
}
