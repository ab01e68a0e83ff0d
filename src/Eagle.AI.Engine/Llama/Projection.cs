using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// A bias-free linear layer whose only parameter is <c>weight</c> [out, in], created uninitialised: checkpoints fill it,
/// so random initialisation of billions of parameters (what <c>nn.Linear</c> does) would be wasted work.
/// </summary>
internal sealed class Projection : nn.Module<Tensor, Tensor>
{
    /// <summary>[out, in]</summary>
    public readonly Parameter weight;

    /// <summary>Creates an uninitialised [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>] projection.</summary>
    public Projection(long inFeatures, long outFeatures, ScalarType dtype, Device device) : base(nameof(Projection))
    {
        weight = new Parameter(empty([outFeatures, inFeatures], dtype, device), requires_grad: false);
        RegisterComponents();
    }

    /// <summary>x [.., in] → [.., out]</summary>
    public override Tensor forward(Tensor x) => LinearDispatch.Apply(x, weight);
}
