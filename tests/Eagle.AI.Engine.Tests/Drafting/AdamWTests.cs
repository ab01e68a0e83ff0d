using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using Xunit;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

public sealed class AdamWTests
{
    // Two copies of one small regression, one stepped by ours and one by TorchSharp's AdamW (the libtorch update we
    // replaced), must stay together step for step, weight decay and bias correction included.
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void Matches_TorchSharp_AdamW_over_twenty_steps(double weightDecay)
    {
        using var g = new Generator(7);
        using var x = randn([16, 5], generator: g);
        using var y = randn([16, 3], generator: g);
        using var w0 = randn([5, 3], generator: g);
        using var b0 = randn([3], generator: g);
        var ours = new[] { new Parameter(w0.clone()), new Parameter(b0.clone()) };
        var theirs = new[] { new Parameter(w0.clone()), new Parameter(b0.clone()) };

        using var mine = new AdamW(ours, 0.05, 0.9, 0.95, 1e-8, weightDecay);
#pragma warning disable RS0030 // the reference: its step's temporary Scalars are the hazard, and one test cannot tell
        using var reference = optim.AdamW(theirs, 0.05, 0.9, 0.95, 1e-8, weightDecay);
        for (int step = 0; step < 20; step++)
        {
            mine.ZeroGrad();
            Loss(ours).backward();
            mine.Step();
            reference.zero_grad();
            Loss(theirs).backward();
            reference.step();
        }
#pragma warning restore RS0030
        for (int i = 0; i < ours.Length; i++)
        {
            using var difference = ours[i].sub(theirs[i]).abs().max();
            Assert.True(difference.item<float>() < 1e-5f, $"parameter {i} differs by {difference.item<float>()}");
            using var moved = ours[i].sub(i == 0 ? w0 : b0).abs().max();
            Assert.True(moved.item<float>() > 0.1f, "the parameters moved");
        }

        Tensor Loss(Parameter[] p)
        {
            using var scope = NewDisposeScope();
            return x.matmul(p[0]).Plus(p[1]).sub(y).pow(HeldScalars.Two).mean().MoveToOuterDisposeScope();
        }
    }

    [Fact]
    public void Parameters_without_a_gradient_are_left_alone()
    {
        using var w = new Parameter(ones(3));
        using var unused = new Parameter(ones(3));
        using var optimizer = new AdamW([w, unused], 0.1, 0.9, 0.95, 1e-8, 0.5);
        optimizer.ZeroGrad();
        w.sum().backward();
        optimizer.Step();
        Assert.All(unused.data<float>().ToArray(), v => Assert.Equal(1f, v));
        Assert.All(w.data<float>().ToArray(), v => Assert.True(v < 0.95f));
    }
}
