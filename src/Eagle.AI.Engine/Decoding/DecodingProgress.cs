namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// A session's running counters, cheap to read between steps (no allocation): the difference of two readings around a
/// step is what that step did, which is how the serving loop measures tokens per step and acceptance per round.
/// </summary>
/// <param name="Prefilled">Prompt tokens through the target (or reused from the prefix cache).</param>
/// <param name="Generated">Tokens generated so far.</param>
/// <param name="Rounds">Decoding rounds after prefill (one verification forward each).</param>
/// <param name="AcceptedDraftTokens">Draft tokens accepted and emitted so far.</param>
/// <param name="VerifiedTokens">Tokens the target verified in those rounds: one per plain round, the tree (root included) per drafted round.</param>
/// <param name="Capacity">Positions the session's KV cache holds.</param>
internal readonly record struct DecodingProgress(int Prefilled, int Generated, int Rounds, int AcceptedDraftTokens, int VerifiedTokens, int Capacity);
