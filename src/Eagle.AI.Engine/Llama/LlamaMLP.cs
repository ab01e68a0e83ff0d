using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// SwiGLU feed-forward: down(silu(gate(x)) · up(x)). gate_proj and up_proj share one [2I, H] storage (see
/// <see cref="Fused"/>), so they run as one GEMM while the checkpoint keys stay per projection.
/// </summary>
internal sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    /// <summary>[I, H]</summary>
    public readonly Projection gate_proj;
    /// <summary>[I, H]</summary>
    public readonly Projection up_proj;
    /// <summary>[H, I]</summary>
    public readonly Projection down_proj;
    private readonly FusedWeight gateUp; // [2I, H]: gate_proj and up_proj weights are its row slices

    /// <summary>Creates an uninitialised MLP.</summary>
    public LlamaMLP(int hidden, int intermediate, ScalarType dtype, Device device) : base(nameof(LlamaMLP))
    {
        gate_proj = new Projection(hidden, intermediate, dtype, device);
        up_proj = new Projection(hidden, intermediate, dtype, device);
        down_proj = new Projection(intermediate, hidden, dtype, device);
        gateUp = new FusedWeight(gate_proj.weight, up_proj.weight); // while still empty, as in LlamaAttention
        RegisterComponents();
    }

    /// <summary>
    /// Whether gate and up come from one GEMM over the shared weight (default) rather than two. Either way the values
    /// are the same; the two-GEMM path is also taken whenever the weights require grad (head training).
    /// </summary>
    public bool Fused { get; set; } = true;

    /// <summary>x [.., H] → [.., H]</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor h;
        if (Fused && !gate_proj.weight.requires_grad)
        {
            var product = LinearDispatch.Apply(x, gateUp.Weight);                          // [.., 2I]
            if (NativeOps.SiluMul(product) is { } native) h = native;              // CPU bf16: one call
            else
            {
                var gu = product.chunk(2, -1);                                    // [.., I] twice, views
                h = nn.functional.silu(gu[0]).mul_(gu[1]);                        // in place: inference only
            }
        }
        else
            h = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        return down_proj.forward(h).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) gateUp.Dispose();
        base.Dispose(disposing);
    }
}
