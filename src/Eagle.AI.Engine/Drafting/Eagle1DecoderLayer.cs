using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// EAGLE-1's <c>layers.0</c>: a LLaMA decoder layer without <c>input_layernorm</c> (the reference skips it for layer 0,
/// because <c>fc</c> already mixed the inputs).
/// </summary>
internal sealed class Eagle1DecoderLayer : nn.Module
{
    /// <summary>q/k/v over H inputs.</summary>
    public readonly LlamaAttention self_attn;
    /// <summary>[H]</summary>
    public readonly RMSNorm post_attention_layernorm;
    /// <summary>Feed-forward.</summary>
    public readonly LlamaMLP mlp;

    /// <summary>Creates an uninitialised layer for <paramref name="c"/>.</summary>
    public Eagle1DecoderLayer(EagleHeadConfig c, ScalarType dtype, Device device) : base(nameof(Eagle1DecoderLayer))
    {
        self_attn = new LlamaAttention(c.HiddenSize, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, dtype, device);
        post_attention_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        mlp = new LlamaMLP(c.HiddenSize, c.IntermediateSize, dtype, device);
        RegisterComponents();
    }

    /// <summary>x [1, n, H] → [1, n, H]; writes K/V into layer 0 of each sequence's cache in <paramref name="batch"/>.</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, PackedSequences batch)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(self_attn.forward(x, cos, sin, batch, 0));                 // no input norm
        var y = h.Plus(mlp.forward(post_attention_layernorm.forward(h))); // out of place: autograd needs h
        return y.MoveToOuterDisposeScope();
    }
}
