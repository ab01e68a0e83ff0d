using System.Globalization;
using Eagle.AI;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Console;

/// <summary>
/// One answer's size and speed: the prompt's tokens (the whole conversation so far), the generated tokens over the wall
/// time from sending the request to the last token (prefill included), and τ, the mean number of tokens one target forward yielded (1 for plain decoding), which Eagle reports in
/// <see cref="UsageDetails.AdditionalCounts"/> under <see cref="EagleUsageKeys.MeanAcceptanceLengthX1000"/>.
/// </summary>
public sealed record AnswerStats(long PromptTokens, long Tokens, TimeSpan Elapsed, double? Tau)
{
    public static AnswerStats From(UsageDetails? usage, TimeSpan elapsed)
    {
        double? tau = usage?.AdditionalCounts?.TryGetValue(EagleUsageKeys.MeanAcceptanceLengthX1000, out long x1000) == true ? x1000 / 1000.0 : null;
        return new AnswerStats(usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0, elapsed, tau);
    }

    public double TokensPerSecond => Elapsed > TimeSpan.Zero ? Tokens / Elapsed.TotalSeconds : 0;

    /// <summary>e.g. <c>[30 prompt + 12 answer tokens in 0.84 s: 14.3 tokens/s, τ 2.40]</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"[{PromptTokens} prompt + {Tokens} answer tokens in {Elapsed.TotalSeconds:F2} s: {TokensPerSecond:F1} tokens/s, τ {(Tau is { } t ? t.ToString("F2", CultureInfo.InvariantCulture) : "n/a")}]");
}
