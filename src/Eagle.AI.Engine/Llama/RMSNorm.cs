using Eagle.AI.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>RMSNorm as LLaMA computes it: statistics in fp32, the result cast back before the weight multiplies it.</summary>
internal sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>[H]</summary>
    public readonly Parameter weight;
    private readonly Scalar eps; // kept by the module, so the GC cannot finalize it during a native call
    private readonly float epsilon;

    /// <summary>Creates an uninitialised norm over the last dimension of width <paramref name="size"/>.</summary>
    public RMSNorm(long size, double eps, ScalarType dtype, Device device) : base(nameof(RMSNorm))
    {
        weight = new Parameter(empty([size], dtype, device), requires_grad: false);
        this.eps = eps.ToScalar();
        epsilon = (float)eps;
        RegisterComponents();
    }

    /// <summary>x [.., H] → [.., H]</summary>
    public override Tensor forward(Tensor x)
    {
        if (NativeOps.RmsNorm(x, null, weight, epsilon) is { } native) return native.Normed; // CPU bf16: one call
        using var scope = NewDisposeScope();
        var xf = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        // (.., H) * (.., 1) = (.., H)
        // x·x rather than square(): TorchSharp's square() passes pow an implicit Scalar 2 that the GC can finalize mid-call
        var normed = xf * xf.mul(xf).mean([-1], keepdim: true).Plus(eps).rsqrt();
        var y = normed.to(x.dtype) * weight; // out of place: autograd (head training) needs normed
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The residual add and the norm after it: <paramref name="sum"/> = x + delta [.., H] (the residual stream goes on
    /// from it), returns its norm. On the CPU in bf16 one native call does both.
    /// </summary>
    public Tensor forward(Tensor x, Tensor delta, out Tensor sum)
    {
        if (NativeOps.RmsNorm(x, delta, weight, epsilon) is { Sum: { } added } native)
        {
            sum = added;
            return native.Normed;
        }
        sum = x.Plus(delta);
        return forward(sum);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) eps.Dispose();
        base.Dispose(disposing);
    }
}
