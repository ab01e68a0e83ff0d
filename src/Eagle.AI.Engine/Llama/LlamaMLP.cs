using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) · up(x)).</summary>
public sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    /// <summary>[I, H]</summary>
    public readonly Projection gate_proj;
    /// <summary>[I, H]</summary>
    public readonly Projection up_proj;
    /// <summary>[H, I]</summary>
    public readonly Projection down_proj;

    /// <summary>Creates an uninitialised MLP.</summary>
    public LlamaMLP(int hidden, int intermediate, ScalarType dtype, Device device) : base(nameof(LlamaMLP))
    {
        gate_proj = new Projection(hidden, intermediate, dtype, device);
        up_proj = new Projection(hidden, intermediate, dtype, device);
        down_proj = new Projection(intermediate, hidden, dtype, device);
        RegisterComponents();
    }

    /// <summary>x [.., H] → [.., H]</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        return down_proj.forward(h).MoveToOuterDisposeScope();
    }
}
