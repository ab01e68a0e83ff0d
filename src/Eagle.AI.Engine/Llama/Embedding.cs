using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>An embedding table whose only parameter is <c>weight</c> [V, H], created uninitialised.</summary>
internal sealed class Embedding : nn.Module<Tensor, Tensor>
{
    /// <summary>[V, H]</summary>
    public readonly Parameter weight;

    /// <summary>Creates an uninitialised table.</summary>
    public Embedding(long vocab, long hidden, ScalarType dtype, Device device) : base(nameof(Embedding))
    {
        weight = new Parameter(empty([vocab, hidden], dtype, device), requires_grad: false);
        RegisterComponents();
    }

    /// <summary>ids [..] (int64) → [.., H]</summary>
    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view([.. ids.shape, weight.shape[1]]);
    }
}
