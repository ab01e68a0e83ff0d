namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// The size of one round's draft tree: <paramref name="TotalTokens"/> verified tokens including the root, grown in
/// <paramref name="Depth"/> expansion passes after the root's children (so its longest path has Depth + 1 drafts and
/// drafting costs Depth + 1 head forwards). Chosen per round by <see cref="SpeculationPolicy"/>.
/// </summary>
internal readonly record struct TreeBudget(int TotalTokens, int Depth)
{
    /// <summary>Most drafted tokens one round can accept.</summary>
    public int MaxAccepted => Math.Min(TotalTokens - 1, Depth + 1);

    /// <inheritdoc/>
    public override string ToString() => $"{TotalTokens} tokens, depth {Depth}";
}
