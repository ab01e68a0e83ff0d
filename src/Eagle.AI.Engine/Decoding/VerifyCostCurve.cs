using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// What one target forward costs for n tokens after a committed prefix, and the tree size it favours. On a GPU a
/// 60-token verify costs about one decode step, so big trees are free; on a CPU it costs several, so a small tree wins.
/// </summary>
internal sealed record VerifyCostCurve(IReadOnlyList<(int Tokens, double Milliseconds)> Points)
{
    /// <summary>Token counts measured by default: the sizes <see cref="SpeculationPolicy.MenuUpTo"/> offers, and 64.</summary>
    public static readonly int[] DefaultSizes = [1, 2, 4, 8, 16, 32, 60, 64];

    /// <summary>
    /// Times a forward of each size after a 64-token prefix: the sizes in turn, <paramref name="repeats"/> rounds after a
    /// warm-up round, the best of each, so a slow moment of a shared machine (or threads still settling after load) does
    /// not land on one size only; then made non-decreasing, since a forward of more tokens never costs less (a dip is
    /// noise, and a 2-token verify measured cheaper than a 1-token step would make every tree look free).
    /// </summary>
    public static VerifyCostCurve Measure(LlamaForCausalLM target, IReadOnlyList<int>? sizes = null, int repeats = 5)
    {
        sizes ??= DefaultSizes;
        const int prefix = 64;
        using var noGrad = no_grad();
        using var cache = target.NewCache(prefix + sizes.Max());
        var device = target.Device;
        using (var scope = NewDisposeScope())
        {
            using var vocab = ((long)target.Config.VocabSize).ToScalar();
            var ids = HeldScalars.Range(0, prefix, device).remainder(vocab);
            target.Forward(ids, HeldScalars.Range(0, prefix, device), cache, null, ForwardRequest.AllLogits).Dispose();
        }
        var ordered = sizes.Distinct().Order().ToArray();
        var best = ordered.Select(_ => double.MaxValue).ToArray();
        for (int r = 0; r <= repeats; r++)
            for (int i = 0; i < ordered.Length; i++)
            {
                int n = ordered[i];
                using var scope = NewDisposeScope();
                using var vocab = ((long)target.Config.VocabSize).ToScalar();
                var ids = HeldScalars.Range(0, n, device).remainder(vocab);
                var positions = HeldScalars.Range(prefix, prefix + n, device);
                double ms = DeviceClock.Time(device, () => target.Forward(ids, positions, cache, null, ForwardRequest.AllLogits).Dispose());
                cache.Truncate(prefix);
                if (r > 0) best[i] = Math.Min(best[i], ms);                          // round 0 warms up
            }
        for (int i = 1; i < best.Length; i++) best[i] = Math.Max(best[i], best[i - 1]);
        return new VerifyCostCurve([.. ordered.Zip(best)]);
    }

    /// <summary>
    /// The forward time for <paramref name="tokens"/>, interpolated linearly between measured points and extended past
    /// the last one along the last segment's slope (a batch's forward may carry more tokens than any measured size).
    /// </summary>
    public double Milliseconds(int tokens)
    {
        var p = Points.OrderBy(x => x.Tokens).ToList();
        if (tokens <= p[0].Tokens) return p[0].Milliseconds;
        for (int i = 1; i < p.Count; i++)
            if (tokens <= p[i].Tokens)
            {
                double f = (double)(tokens - p[i - 1].Tokens) / (p[i].Tokens - p[i - 1].Tokens);
                return p[i - 1].Milliseconds + f * (p[i].Milliseconds - p[i - 1].Milliseconds);
            }
        if (p.Count == 1) return p[0].Milliseconds;
        double slope = (p[^1].Milliseconds - p[^2].Milliseconds) / (p[^1].Tokens - p[^2].Tokens);
        return p[^1].Milliseconds + Math.Max(0, slope) * (tokens - p[^1].Tokens);
    }

    /// <summary>Each point's time as a ratio to the one-token forward.</summary>
    public IEnumerable<(int Tokens, double Milliseconds, double RatioToOne)> Ratios()
    {
        double one = Milliseconds(1);
        return Points.Select(p => (p.Tokens, p.Milliseconds, p.Milliseconds / one));
    }
}
