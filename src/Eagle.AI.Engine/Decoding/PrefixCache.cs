namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// Finished sequences kept for reuse across requests (multi-turn chat, agent loops: each call re-sends the system
/// prompt, the tools and the earlier turns). A new request starts from the retained sequence with which it shares the
/// longest prefix — matched by token ids — and prefills only the rest. Entries are evicted least recently used once the
/// positions they hold exceed the budget, entries pinned to a conversation id only after all unpinned ones (one entry per
/// conversation: its newest); an entry is only read (copied from) when a session starts, so evicting never touches a
/// running session. Not thread-safe: the engine uses it from its generation thread.
/// </summary>
internal sealed class PrefixCache(int budgetPositions) : IDisposable
{
    /// <summary>Shared prefixes shorter than this are not worth a copy; the prompt is prefilled as usual.</summary>
    public const int MinimumReuseTokens = 8;

    private readonly LinkedList<RetainedSequence> entries = new();          // most recently used first
    private readonly Dictionary<RetainedSequence, string> pins = [];        // entry → the conversation it is pinned to

    /// <summary>Budget used where the device's memory cannot be measured (CUDA through TorchSharp): 2 GiB of LLaMA-3-8B KV in 16-bit.</summary>
    public const int FallbackBudgetPositions = 16384;

    /// <summary>The most positions a budget sized from memory gets.</summary>
    public const int MaxSizedBudgetPositions = 1 << 20;

    /// <summary>
    /// A budget sized for the device: a quarter of the memory the weights leave free (<paramref name="memoryBytes"/> −
    /// <paramref name="weightBytes"/>), in positions of <paramref name="bytesPerPosition"/> (target plus draft K/V), at
    /// least <see cref="FallbackBudgetPositions"/> ÷ 16 and at most <see cref="MaxSizedBudgetPositions"/>. A quarter
    /// leaves the rest to the running requests' caches and activations; retained prefixes give way to them anyway when
    /// an admission does not fit. Null <paramref name="memoryBytes"/> (not measurable) gives
    /// <see cref="FallbackBudgetPositions"/>.
    /// </summary>
    public static int SizedFor(long? memoryBytes, long weightBytes, long bytesPerPosition)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerPosition);
        if (memoryBytes is not { } memory) return FallbackBudgetPositions;
        long spare = Math.Max(0, memory - weightBytes) / 4;
        return (int)Math.Clamp(spare / bytesPerPosition, FallbackBudgetPositions / 16, MaxSizedBudgetPositions);
    }

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
    /// Keeps <paramref name="sequence"/> (the cache now owns it), pinned to <paramref name="conversationId"/> when given:
    /// older entries it extends, and the conversation's previous entry, are dropped; then the least recently used
    /// unpinned ones, and only then pinned ones, until the budget holds. A sequence bigger than the whole budget is
    /// disposed at once.
    /// </summary>
    public void Add(RetainedSequence sequence, string? conversationId = null)
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
            // An entry whose every token this one also holds (with a drafting state if it had one) is redundant, and a
            // conversation keeps only its newest entry.
            var old = node.Value;
            bool extended = old.Tokens.Count <= sequence.Tokens.Count && sequence.CommonPrefix(old.Tokens) == old.Tokens.Count
                && (old.DraftState is null || sequence.DraftState is not null);
            bool superseded = conversationId is not null && pins.TryGetValue(old, out var pin) && pin == conversationId;
            if (extended || superseded) Remove(node);
            node = next;
        }
        entries.AddFirst(sequence);
        if (conversationId is not null) pins[sequence] = conversationId;
        while (Positions > BudgetPositions)
        {
            var victim = entries.Last;
            while (victim is not null && pins.ContainsKey(victim.Value)) victim = victim.Previous;
            Remove(victim ?? entries.Last!);
        }
    }

    /// <summary>Whether <paramref name="sequence"/> is an entry pinned to a conversation.</summary>
    public bool IsPinned(RetainedSequence sequence) => pins.ContainsKey(sequence);

    private void Remove(LinkedListNode<RetainedSequence> node)
    {
        entries.Remove(node);
        pins.Remove(node.Value);
        node.Value.Dispose();
    }

    /// <summary>Frees every entry.</summary>
    public void Clear()
    {
        foreach (var e in entries) e.Dispose();
        entries.Clear();
        pins.Clear();
    }

    /// <inheritdoc/>
    public void Dispose() => Clear();
}
