using Eagle.AI;
using Eagle.Samples.Console;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

public sealed class AnswerStatsTests
{
    [Fact]
    public void From_ReadsTokensAndTau()
    {
        var usage = new UsageDetails
        {
            InputTokenCount = 30,
            OutputTokenCount = 12,
            AdditionalCounts = new() { [EagleUsageKeys.MeanAcceptanceLengthX1000] = 2400 },
        };
        var stats = AnswerStats.From(usage, TimeSpan.FromSeconds(2));
        Assert.Equal(6.0, stats.TokensPerSecond);
        Assert.Equal(2.4, stats.Tau);
        Assert.Equal("[30 prompt + 12 answer tokens in 2.00 s: 6.0 tokens/s, τ 2.40]", stats.ToString());
    }

    [Fact]
    public void From_WithoutEagleCounts_SaysTauIsNotAvailable()
    {
        var stats = AnswerStats.From(new UsageDetails { InputTokenCount = 5, OutputTokenCount = 3 }, TimeSpan.FromMilliseconds(500));
        Assert.Null(stats.Tau);
        Assert.Equal("[5 prompt + 3 answer tokens in 0.50 s: 6.0 tokens/s, τ n/a]", stats.ToString());
    }
}
