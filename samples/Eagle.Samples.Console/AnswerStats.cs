using System.Globalization;
using Eagle.AI;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Console;

/// <summary>
/// One answer's speed: generated tokens over the wall time from sending the request to the last token (prefill
/// included), and τ, the mean number of tokens one target forward yielded (1 for plain decoding), which Eagle reports in
/// <see cref="UsageDetails.AdditionalCounts"/> under <see cref="EagleUsageKeys.MeanAcceptanceLengthX1000"/>.
/// </summary>
public sealed record AnswerStats(long Tokens, TimeSpan Elapsed, double? Tau)
{
    public static AnswerStats From(UsageDetails? usage, TimeSpan elapsed)
    {
        double? tau = usage?.AdditionalCounts?.TryGetValue(EagleUsageKeys.MeanAcceptanceLengthX1000, out long x1000) == true ? x1000 / 1000.0 : null;
        return new AnswerStats(usage?.OutputTokenCount ?? 0, elapsed, tau);
    }

    public double TokensPerSecond => Elapsed > TimeSpan.Zero ? Tokens / Elapsed.TotalSeconds : 0;

    /// <summary>e.g. <c>[12 tokens in 0.84 s: 14.3 tokens/s, τ 2.40]</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"[{Tokens} tokens in {Elapsed.TotalSeconds:F2} s: {TokensPerSecond:F1} tokens/s, τ {(Tau is { } t ? t.ToString("F2", CultureInfo.InvariantCulture) : "n/a")}]");
}
