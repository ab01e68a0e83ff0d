using Eagle.AI.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>The decoder stack (<c>model.*</c> keys): embed_tokens → layers → norm.</summary>
internal sealed class LlamaModel : nn.Module
{
    /// <summary>Embedding table [V, H].</summary>
    public readonly Embedding embed_tokens;
    /// <summary>Decoder layers.</summary>
    public readonly ModuleList<LlamaDecoderLayer> layers;
    /// <summary>Final norm [H].</summary>
    public readonly RMSNorm norm;

    /// <summary>Creates an uninitialised stack for <paramref name="c"/>: layers where <paramref name="placement"/> puts them, the rest on <paramref name="device"/>.</summary>
    public LlamaModel(LlamaConfig c, ScalarType dtype, Device device, LayerPlacement? placement = null) : base(nameof(LlamaModel))
    {
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype, device);
        layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, c.NumHiddenLayers).Select(i => new LlamaDecoderLayer(c, i, dtype, placement?.DeviceOf(i) ?? device)).ToArray());
        norm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        RegisterComponents();
    }
}
