using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// Top-k/top-p by partial selection against a plain host reference of the rule (whole rows sorted by value, equal values
/// by id, higher first; top-k keeps ties at the k-th value; top-p keeps a token while the mass before it is below p), and
/// the whole-row sort against the same reference. Same kept tokens exactly; probabilities equal to fp32 rounding (the
/// renormalising sums run in a different order). Where a nucleus ends exactly on a mass tie (equal probabilities
/// summing to p), only rounding decides; there the two device paths must still agree with each other.
/// </summary>
public class TruncationTests
{
    private const int Vocab = 1000;

    // Fixed rows, each aimed at one case; the partial path starts from a selection of 8 so that widening (8 → 32 → 128 →
    // 512 → the whole-row sort at 2048 ≥ 1000) is exercised too.
    private static float[][] Rows()
    {
        var r = new Random(42);
        float[] Gaussian(double scale) => Enumerable.Range(0, Vocab).Select(_ => (float)(scale * Normal(r))).ToArray();
        var peaked = Gaussian(1);                                                   // a few clear winners: the nucleus is small
        foreach (int i in new[] { 17, 400, 401, 999, 3 }) peaked[i] += 9f + i % 5;
        var flat = Gaussian(0.3);                                                   // a nucleus of hundreds: widened to a sort
        var tiedAtBoundary = Gaussian(0.5);                                         // five tokens tie where the nucleus ends
        tiedAtBoundary[500] = 12f;
        foreach (int i in new[] { 7, 250, 640, 641, 998 }) tiedAtBoundary[i] = 11f;
        var tiedAtK = Gaussian(0.5);                                                // twelve tokens tie with the 3rd (top-k 3)
        tiedAtK[10] = 9f;
        tiedAtK[20] = 8f;
        foreach (int i in Enumerable.Range(0, 12).Select(j => 100 + 37 * j)) tiedAtK[i] = 7f;
        var tiedAtFloor = Gaussian(0.5);                                            // a tie wider than the first selection, inside the nucleus
        foreach (int i in Enumerable.Range(0, 20).Select(j => 3 + 41 * j)) tiedAtFloor[i] = 6f;
        return [peaked, flat, tiedAtBoundary, tiedAtK, tiedAtFloor];
    }

    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    public static readonly TheoryData<int, float> Settings = new()
    {
        { 0, 0.9f }, { 0, 0.5f }, { 0, 0.6f }, { 0, 0.999f }, { 3, 1f }, { 50, 1f }, { 3, 0.9f }, { 40, 0.8f }, { 0, 1e-6f }, { 0, 1f },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void Partial_selection_matches_the_reference_rule(int topK, float topP)
    {
        var rows = Rows();
        using var x = tensor(rows.SelectMany(v => v).ToArray()).view(rows.Length, Vocab);
        using var partial = Truncation.ByPartialSelection(x, topK, topP, selection: 8);
        using var sorted = Truncation.BySort(x, topK, topP);
        var fromPartial = partial.data<float>().ToArray();
        var fromSort = sorted.data<float>().ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            var expected = Reference(rows[i], topK, topP);
            AssertSame(expected, fromPartial.AsSpan(i * Vocab, Vocab), $"partial selection, row {i}");
            AssertSame(expected, fromSort.AsSpan(i * Vocab, Vocab), $"whole-row sort, row {i}");
        }
    }

    // Exact mass ties: twenty equal tokens at the top (p = 1/20 each under top-k 5, which keeps all twenty), so top-p
    // 0.8 or 0.5 ends exactly between two of them.
    public static readonly TheoryData<int, float> MassTies = new() { { 5, 0.8f }, { 5, 0.5f }, { 5, 0.25f }, { 0, 0.9f } };

    [Theory]
    [MemberData(nameof(MassTies))]
    public void On_mass_ties_partial_selection_decides_as_the_whole_row_sort(int topK, float topP)
    {
        var rows = Rows();
        using var x = tensor(rows.SelectMany(v => v).ToArray()).view(rows.Length, Vocab).Times(8.0);  // the background vanishes
        using var partial = Truncation.ByPartialSelection(x, topK, topP, selection: 8);
        using var sorted = Truncation.BySort(x, topK, topP);
        var expected = sorted.data<float>().ToArray().Select(v => (double)v).ToArray();
        AssertSame(expected, partial.data<float>().ToArray(), "partial selection against the whole-row sort");
    }

    [Fact]
    public void A_tie_straddling_the_nucleus_boundary_keeps_its_higher_ids()
    {
        // Token 500 alone above five tied tokens: with top-p 0.6 the boundary falls inside the tie, and two of the five
        // stay, the two highest ids (topk hands the tie over in its own order; the rule's is by id).
        var row = Rows()[2];
        var kept = Reference(row, 0, 0.6f).Select((p, i) => (p, i)).Where(t => t.p > 0).Select(t => t.i).ToArray();
        Assert.Equal([500, 641, 998], kept);
        using var x = tensor(row).view(1, Vocab);
        using var partial = Truncation.ByPartialSelection(x, 0, 0.6f, selection: 8);
        Assert.Equal(kept, partial.data<float>().ToArray().Select((p, i) => (p, i)).Where(t => t.p > 0).Select(t => t.i).ToArray());
    }

    public static readonly TheoryData<float, int, float> SamplerSettings = new()
    {
        { 1f, 0, 0.9f }, { 0.7f, 0, 0.9f }, { 1.3f, 5, 1f }, { 0.5f, 4, 0.7f }, { 0f, 0, 0.9f }, { 2f, 0, 1f },
    };

    [Theory]
    [MemberData(nameof(SamplerSettings))]
    public void The_sampler_applies_temperature_then_the_rule(float temperature, int topK, float topP)
    {
        var rows = Rows();
        using var logits = tensor(rows.SelectMany(v => v).ToArray()).view(rows.Length, Vocab);
        using var scaled = temperature is 0f or 1f ? logits.clone() : logits.Over(temperature);  // as the sampler scales
        var x = scaled.data<float>().ToArray();
        using var p = new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }).Probabilities(logits);
        var actual = p.data<float>().ToArray();
        for (int i = 0; i < rows.Length; i++)
            AssertSame(Reference(x.AsSpan(i * Vocab, Vocab).ToArray(), topK, topP), actual.AsSpan(i * Vocab, Vocab), $"row {i}");
        using var one = new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }).Probabilities(logits[0]);
        AssertSame(Reference(x.AsSpan(0, Vocab).ToArray(), topK, topP), one.data<float>().ToArray(), "a single [V] row");
    }

    // The rule, straight from its statement, in float64 on the host.
    private static double[] Reference(float[] x, int topK, float topP)
    {
        var order = Enumerable.Range(0, x.Length).OrderByDescending(i => x[i]).ThenByDescending(i => i).ToArray();
        var kept = new bool[x.Length];
        float kth = topK > 0 && topK < x.Length ? x[order[topK - 1]] : float.NegativeInfinity;
        foreach (int i in order) kept[i] = x[i] >= kth;
        var p = Softmax(x, kept);
        if (topP < 1f)
        {
            double before = 0;
            foreach (int i in order)
            {
                kept[i] &= before < topP;
                before += p[i];
            }
            p = Softmax(x, kept);
        }
        return p;
    }

    private static double[] Softmax(float[] x, bool[] kept)
    {
        double max = x.Where((_, i) => kept[i]).Max();
        var e = x.Select((v, i) => kept[i] ? Math.Exp(v - max) : 0).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static void AssertSame(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if ((expected[i] > 0) != (actual[i] > 0))
                Assert.Fail($"{what}: token {i} is {(expected[i] > 0 ? "kept" : "dropped")} by the reference, p = {actual[i]}");
            if (Math.Abs(expected[i] - actual[i]) > 1e-6 + 1e-5 * expected[i])
                Assert.Fail($"{what}: token {i}: p = {actual[i]}, reference {expected[i]}");
        }
    }
}
