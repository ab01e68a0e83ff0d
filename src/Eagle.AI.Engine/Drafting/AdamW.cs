using Eagle.AI.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter), the update <c>torch.optim.AdamW</c> makes with its defaults (no amsgrad), written
/// here because TorchSharp's own step passes temporary Scalars that a GC can free mid-call (see
/// <see cref="HeldScalars"/>): every Scalar below lives until its op returns.
/// </summary>
internal sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly Tensor[] firstMoments;
    private readonly Tensor[] secondMoments;
    private readonly double learningRate, beta1, beta2, epsilon, weightDecay;
    private readonly Scalar beta1Scalar, beta2Scalar, oneMinusBeta1, oneMinusBeta2, decay;
    private int steps;

    public AdamW(IReadOnlyList<Parameter> parameters, double learningRate, double beta1, double beta2, double epsilon, double weightDecay)
    {
        this.parameters = parameters;
        (this.learningRate, this.beta1, this.beta2, this.epsilon, this.weightDecay) = (learningRate, beta1, beta2, epsilon, weightDecay);
        firstMoments = parameters.Select(p => zeros_like(p)).ToArray();
        secondMoments = parameters.Select(p => zeros_like(p)).ToArray();
        beta1Scalar = beta1.ToScalar();
        beta2Scalar = beta2.ToScalar();
        oneMinusBeta1 = (1 - beta1).ToScalar();
        oneMinusBeta2 = (1 - beta2).ToScalar();
        decay = (1 - learningRate * weightDecay).ToScalar();
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    /// <summary>One update from the gradients accumulated since <see cref="ZeroGrad"/>; parameters without one are skipped.</summary>
    public void Step()
    {
        using var guard = no_grad();
        steps++;
        double correction1 = 1 - Math.Pow(beta1, steps);
        double correction2 = 1 - Math.Pow(beta2, steps);
        using var stepSize = (-learningRate / correction1).ToScalar();
        using var rootCorrection2 = Math.Sqrt(correction2).ToScalar();
        using var eps = epsilon.ToScalar();
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            using var grad = p.grad;
            if (grad is null) continue;
            using var scope = NewDisposeScope();
            p.mul_(decay);                                                          // decoupled weight decay
            firstMoments[i].mul_(beta1Scalar).add_(grad, oneMinusBeta1);
            secondMoments[i].mul_(beta2Scalar).addcmul_(grad, grad, oneMinusBeta2);
            var denominator = secondMoments[i].sqrt().div_(rootCorrection2).add_(eps, HeldScalars.One);
            p.addcdiv_(firstMoments[i], denominator, stepSize);
        }
    }

    public void Dispose()
    {
        foreach (var t in firstMoments.Concat(secondMoments)) t.Dispose();
        foreach (var s in new[] { beta1Scalar, beta2Scalar, oneMinusBeta1, oneMinusBeta2, decay }) s.Dispose();
    }
}
