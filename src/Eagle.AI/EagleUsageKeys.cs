namespace Eagle.AI;

/// <summary>
/// Keys of <c>UsageDetails.AdditionalCounts</c> in every response: EAGLE's counters for the request. Counts are
/// integers, so the mean acceptance length τ is reported in thousandths.
/// </summary>
public static class EagleUsageKeys
{
    /// <summary>Target forward passes, prefill included (plain decoding: one per generated token).</summary>
    public const string TargetForwardPasses = "eagle.target_forward_passes";

    /// <summary>Decoding rounds after prefill (one verification forward each).</summary>
    public const string DecodingRounds = "eagle.decoding_rounds";

    /// <summary>
    /// Rounds that drafted and verified a tree (0 for plain decoding). With an adaptive tree the others were plain
    /// one-token steps, taken because no tree was expected to pay on this device at the acceptance seen so far.
    /// </summary>
    public const string DraftedRounds = "eagle.drafted_rounds";

    /// <summary>Tokens verified over the drafted rounds, roots included (÷ drafted rounds = the mean tree size).</summary>
    public const string VerifiedTreeTokens = "eagle.verified_tree_tokens";

    /// <summary>Draft tokens the target accepted (0 for plain decoding).</summary>
    public const string AcceptedDraftTokens = "eagle.accepted_draft_tokens";

    /// <summary>
    /// τ × 1000, rounded: τ = (generated tokens − 1) ÷ rounds, the tokens one target forward yields after prefill
    /// (plain decoding: 1000; 0 when there was no round).
    /// </summary>
    public const string MeanAcceptanceLengthX1000 = "eagle.mean_acceptance_length_x1000";
}
