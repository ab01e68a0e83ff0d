namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// A request's constraint on its output (structured output, a required tool call): the generated tokens must spell a
/// document of <see cref="Grammar"/> and then a stop id, which is allowed exactly when the document is complete. It is
/// a mask on the target's distribution: greedy takes the best allowed token, sampling draws from the allowed tokens
/// renormalised (the mask comes before temperature, top-k and top-p), and speculative decoding stays exact w.r.t. it.
/// </summary>
/// <param name="Grammar">What the answer must be.</param>
/// <param name="Tokens">The vocabulary's token bytes (<see cref="TokenTrie.For"/> for the LLaMA-3 tokenizer).</param>
public sealed record OutputConstraint(JsonGrammar Grammar, TokenTrie Tokens)
{
    /// <summary>The state of a request that has generated nothing yet.</summary>
    internal JsonFrame Start() => Grammar.Start();

    /// <summary>The state after <paramref name="token"/>, or null when the constraint forbids it there.</summary>
    internal JsonFrame? Next(JsonFrame state, int token, IReadOnlySet<int> stops)
    {
        if (state is AfterStop) return state;
        if (stops.Contains(token)) return state.IsComplete ? AfterStop.Instance : null;
        return Tokens.Advance(state, token);
    }

    /// <summary>
    /// Writes the allowed tokens from <paramref name="state"/> into <paramref name="allowed"/> (one entry per logit):
    /// ordinary tokens the grammar accepts, and the stop ids when the document is complete. After a stop everything is
    /// allowed: such rows (draft nodes below a stop) are never emitted, and an all-forbidden row would have no distribution.
    /// </summary>
    internal void Allowed(JsonFrame state, IReadOnlySet<int> stops, Span<bool> allowed)
    {
        if (state is AfterStop) { allowed.Fill(true); return; }
        allowed.Clear();
        Tokens.Allow(state, allowed);
        bool complete = state.IsComplete;
        foreach (int s in stops)
            if ((uint)s < (uint)allowed.Length) allowed[s] = complete;
    }

    /// <summary>The state after a stop id (the answer is over), also used where nothing is constrained any more.</summary>
    internal static JsonFrame Over => AfterStop.Instance;

    private sealed class AfterStop : JsonFrame
    {
        public static readonly AfterStop Instance = new();
        private AfterStop() : base(null) { }
        public override JsonFrame? Step(byte b) => null;
        public override bool IsComplete => true;
    }
}
