namespace Eagle.AI.Engine.Decoding;

/// <summary>What one generation request asks for.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate, ≥ 1.</summary>
    public int MaxNewTokens { get; init; } = 256;
    /// <summary>How tokens are chosen.</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;
    /// <summary>Ids that end generation (kept as the last output token); null = the model's eos ids.</summary>
    public IReadOnlyCollection<int>? StopTokenIds { get; init; }
    /// <summary>What the output must spell (structured output, a required tool call); null = unconstrained.</summary>
    public Constraints.OutputConstraint? Constraint { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the option and its allowed range.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "max new tokens must be >= 1");
        Sampling.Validate();
    }
}

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token was generated.</summary>
    Stop,
    /// <summary>The token budget or the context limit was reached.</summary>
    Length,
}

/// <summary>
/// Counters and timings of one request. τ, the mean acceptance length, is the tokens the decoding rounds produced
/// divided by the rounds: (generated tokens − 1) ÷ rounds, where a round is one verification forward after prefill and
/// its tokens are the accepted drafts plus the bonus token (the first token comes from prefill). Vanilla decoding has
/// τ = 1; the reference implementation's "accepted per round + 1" is the same figure.
/// </summary>
public sealed record GenerationStats
{
    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; init; }
    /// <summary>Prompt tokens whose KV came from a finished request sharing the prefix (not prefilled again).</summary>
    public int CachedPromptTokens { get; init; }
    /// <summary>Tokens generated (stop token included).</summary>
    public int GeneratedTokens { get; init; }
    /// <summary>Prefill wall time.</summary>
    public double PrefillMs { get; init; }
    /// <summary>Wall time after prefill.</summary>
    public double DecodeMs { get; init; }
    /// <summary>Target forward passes, prefill included.</summary>
    public int TargetForwards { get; init; }
    /// <summary>Decoding rounds after prefill (vanilla: one per token after the first).</summary>
    public int Rounds { get; init; }
    /// <summary>Draft tokens accepted by verification (0 for vanilla).</summary>
    public int AcceptedDraftTokens { get; init; }
    /// <summary>Time drafting (speculative only).</summary>
    public double DraftMs { get; init; }
    /// <summary>Time in target verification forwards (speculative only).</summary>
    public double VerifyMs { get; init; }

    /// <summary>Time computing the output constraint's token masks (0 when unconstrained).</summary>
    public double MaskMs { get; init; }

    /// <summary>Token masks computed (one per distinct grammar state per step; 0 when unconstrained).</summary>
    public int Masks { get; init; }

    /// <summary>Time to mask each step's logits (all rows of a verified tree together); empty when unconstrained.</summary>
    public IReadOnlyList<double> MaskStepMs { get; init; } = [];

    /// <summary>Rounds that drafted and verified a tree; the other <see cref="Rounds"/> were plain one-token steps chosen by an adaptive tree (<see cref="SpeculationPolicy"/>).</summary>
    public int DraftedRounds { get; init; }

    /// <summary>Tokens verified over all drafted rounds, roots included (÷ <see cref="DraftedRounds"/> = the mean tree size).</summary>
    public int VerifiedTreeTokens { get; init; }

    /// <summary>Drafted rounds per tree size (tokens verified, root included); empty for plain decoding.</summary>
    public IReadOnlyDictionary<int, int> TreeSizes { get; init; } = new Dictionary<int, int>();

    /// <summary>Generated tokens per second after prefill (the first token comes from prefill, so it is not counted).</summary>
    public double DecodeTokensPerSecond => DecodeMs > 0 ? (GeneratedTokens - 1) / (DecodeMs / 1000.0) : 0;

    /// <summary>τ = (generated tokens − 1) ÷ rounds (see the type's remarks); 0 before the first round.</summary>
    public double MeanAcceptanceLength => Rounds > 0 ? (GeneratedTokens - 1) / (double)Rounds : 0;
}

/// <summary>The result of one request.</summary>
public sealed record GenerationResult(IReadOnlyList<int> OutputIds, FinishReason FinishReason, GenerationStats Stats);
