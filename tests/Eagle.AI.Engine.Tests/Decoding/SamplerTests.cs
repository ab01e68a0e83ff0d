using Eagle.AI.Engine.Decoding;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

public class SamplerTests
{
    private static readonly float[] Logits = [2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1f, -3f];

    private static float[] Probs(SamplingOptions o)
    {
        using var l = tensor(Logits);
        using var p = new Sampler(o).Probabilities(l);
        return p.data<float>().ToArray();
    }

    [Fact]
    public void Top_k_keeps_exactly_the_k_most_likely_tokens()
    {
        var p = Probs(new SamplingOptions { Temperature = 1, TopK = 3 });
        Assert.Equal([true, true, true, false, false, false, false, false], p.Select(v => v > 0));
        Assert.Equal(1.0, p.Sum(), 5);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_prefix_whose_mass_reaches_p()
    {
        var full = Probs(new SamplingOptions { Temperature = 1 });
        var p = Probs(new SamplingOptions { Temperature = 1, TopP = 0.7f });
        int kept = p.Count(v => v > 0);
        Assert.True(full.Take(kept).Sum() >= 0.7 - 1e-6);
        Assert.True(full.Take(kept - 1).Sum() < 0.7);
        Assert.All(p.Take(kept), v => Assert.True(v > 0));
        Assert.True(Probs(new SamplingOptions { Temperature = 1, TopP = 1e-6f }).Count(v => v > 0) == 1); // the top token always survives
    }

    [Fact]
    public void Draws_never_leave_the_allowed_set()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 0.7f, TopK = 4, TopP = 0.8f, Seed = 9 });
        using var l = tensor(Logits);
        using var p = sampler.Probabilities(l);
        var allowed = p.data<float>().ToArray().Select((v, i) => (v, i)).Where(x => x.v > 0).Select(x => x.i).ToHashSet();
        var seen = new HashSet<int>();
        for (int i = 0; i < 5000; i++) seen.Add(sampler.Next(l));
        Assert.Subset(allowed, seen);
        Assert.Equal(allowed, seen); // and every allowed token shows up
    }

    [Fact]
    public void Temperature_sharpens_the_distribution()
    {
        var hot = Probs(new SamplingOptions { Temperature = 2 });
        var cold = Probs(new SamplingOptions { Temperature = 0.5f });
        Assert.True(cold[0] > hot[0]);
    }
}
