using System.Diagnostics;
using Eagle.AI.Engine.Decoding;

namespace Eagle.AI;

/// <summary>
/// Counts what a request produced, round by round, so that a request stopped early by its consumer (a stop string)
/// still reports its usage: the generators throw on cancellation and their own statistics are lost. The first call is
/// prefill's token; every later call is one round: its accepted drafts plus the bonus token.
/// </summary>
internal sealed class TokenTally(int promptTokens)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly List<int> output = [];
    private int calls, acceptedDrafts;
    private double prefillMs;

    /// <summary>Records one round's tokens.</summary>
    public void Add(IReadOnlyList<int> ids)
    {
        if (calls == 0) prefillMs = clock.Elapsed.TotalMilliseconds;
        else acceptedDrafts += Math.Max(0, ids.Count - 1);
        calls++;
        output.AddRange(ids);
    }

    /// <summary>The result of a generation ended on request after the rounds recorded so far.</summary>
    public GenerationResult Stopped()
    {
        double total = clock.Elapsed.TotalMilliseconds;
        return new GenerationResult(output.ToArray(), FinishReason.Stop, new GenerationStats
        {
            PromptTokens = promptTokens,
            GeneratedTokens = output.Count,
            PrefillMs = prefillMs,
            DecodeMs = total - prefillMs,
            TargetForwards = calls,
            Rounds = Math.Max(0, calls - 1),
            AcceptedDraftTokens = acceptedDrafts,
        });
    }
}
