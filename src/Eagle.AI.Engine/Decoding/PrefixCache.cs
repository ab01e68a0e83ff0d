namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// Finished sequences kept for reuse across requests (multi-turn chat, agent loops: each call re-sends the system
/// prompt, the tools and the earlier turns). A new request starts from the retained sequence with which it shares the
/// longest prefix — matched by token ids — and prefills only the rest. Entries are evicted least recently used once the
/// positions they hold exceed the budget; an entry is only read (copied from) when a session starts, so evicting never
/// touches a running session. Not thread-safe: the engine uses it from its generation thread.
/// </summary>
public sealed class PrefixCache(int budgetPositions) : IDisposable
{
    /// <summary>Shared prefixes shorter than this are not worth a copy; the prompt is prefilled as usual.</summary>
    public const int MinimumReuseTokens = 8;

    private readonly LinkedList<RetainedSequence> entries = new();          // most recently used first

    /// <summary>Positions the entries may hold in all (their caches' capacity); 0 keeps nothing.</summary>
    public int BudgetPositions { get; } = budgetPositions >= 0 ? budgetPositions
        : throw new ArgumentOutOfRangeException(nameof(budgetPositions), budgetPositions, "must be ≥ 0 (0 turns reuse off)");

    /// <summary>Positions the entries hold now.</summary>
    public int Positions => entries.Sum(e => e.Positions);

    /// <summary>Number of retained sequences.</summary>
    public int Count => entries.Count;

    /// <summary>
    /// The entry sharing the longest prefix with <paramref name="prompt"/> (at least <see cref="MinimumReuseTokens"/>),
    /// marked most recently used; with <paramref name="speculative"/>, only entries with a drafting state. Null when none.
    /// </summary>
    public RetainedSequence? Find(IReadOnlyList<int> prompt, bool speculative)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        LinkedListNode<RetainedSequence>? best = null;
        int bestLength = MinimumReuseTokens - 1;
        for (var node = entries.First; node is not null; node = node.Next)
        {
            if (speculative && node.Value.DraftState is null) continue;
            int shared = node.Value.CommonPrefix(prompt);
            if (shared > bestLength)
            {
                best = node;
                bestLength = shared;
            }
        }
        if (best is null) return null;
        entries.Remove(best);
        entries.AddFirst(best);
        return best.Value;
    }

    /// <summary>
    /// Keeps <paramref name="sequence"/> (the cache now owns it): older entries it extends are dropped, then the least
    /// recently used ones until the budget holds. A sequence bigger than the whole budget is disposed at once.
    /// </summary>
    public void Add(RetainedSequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Positions > BudgetPositions)
        {
            sequence.Dispose();
            return;
        }
        for (var node = entries.First; node is not null;)
        {
            var next = node.Next;
            // An entry whose every token this one also holds (with a drafting state if it had one) is redundant.
            var old = node.Value;
            if (old.Tokens.Count <= sequence.Tokens.Count && sequence.CommonPrefix(old.Tokens) == old.Tokens.Count
                && (old.DraftState is null || sequence.DraftState is not null))
            {
                entries.Remove(node);
                old.Dispose();
            }
            node = next;
        }
        entries.AddFirst(sequence);
        while (Positions > BudgetPositions && entries.Last is { } last)
        {
            entries.RemoveLast();
            last.Value.Dispose();
        }
    }

    /// <summary>Frees every entry.</summary>
    public void Clear()
    {
        foreach (var e in entries) e.Dispose();
        entries.Clear();
    }

    /// <inheritdoc/>
    public void Dispose() => Clear();
}
