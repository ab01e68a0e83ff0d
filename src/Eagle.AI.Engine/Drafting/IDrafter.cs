using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// Proposes draft trees from the target's own features. A decoding session drives it with one call per round:
/// <see cref="Draft(IDraftState, Tensor?, int[], DraftContext)"/> gets the features of the tokens the target just committed, each paired with the token that
/// followed it (draft position p = feature of token p + embedding of token p + 1), the last of which is the new root.
/// A drafter holds no per-request state: what a request accumulates (e.g. its draft KV cache) lives in the
/// <see cref="IDraftState"/> that <see cref="Begin"/> returns, which the session owns; tree expansion must not leak into
/// it. One drafter therefore serves any number of concurrent sessions.
/// </summary>
internal interface IDrafter : IDisposable
{
    /// <summary>Which target features this drafter consumes.</summary>
    FeatureRequest Features { get; }

    /// <summary>Most nodes (root included) a tree from this drafter can have: the KV room verification needs.</summary>
    int MaxTreeTokens { get; }

    /// <summary>
    /// The tree shape it drafts, when it follows <see cref="TreeSettings"/> (an adaptive one lets
    /// <see cref="Decoding.SpeculationPolicy"/> size each round through <see cref="DraftContext.Budget"/>); null for
    /// drafters with trees of their own.
    /// </summary>
    TreeSettings? Tree => null;

    /// <summary>
    /// The drafting state of a new request whose sequence will need at most <paramref name="capacity"/> positions
    /// (allocated now, at its full size); the caller disposes it when the request ends.
    /// </summary>
    IDraftState Begin(int capacity);

    /// <summary>
    /// Like <see cref="Begin"/>, but the new state starts with the first <paramref name="length"/> committed pairs of
    /// <paramref name="source"/> (a finished request's state from a drafter of the same head), so a request that shares
    /// a prefix with it need not redo them; null when this drafter cannot continue that state.
    /// </summary>
    IDraftState? BeginFrom(int capacity, IDraftState source, int length) => null;

    /// <summary>
    /// Consumes (feature, next token) pairs into <paramref name="state"/> without drafting a tree: how a finished
    /// request's last committed tokens reach its drafting state before it is kept for reuse. Drafters that keep no
    /// state need not do anything.
    /// </summary>
    void Consume(IDraftState state, Tensor? features, int[] nextTokens)
    {
    }

    /// <summary>
    /// Consumes, into <paramref name="state"/>, <paramref name="features"/> [k, F] (from <see cref="Features"/>; may be null when the drafter asked for
    /// none) of k newly committed tokens, paired with <paramref name="nextTokens"/> [k] (each the token that followed;
    /// the last is the root of the new tree), and returns the tree to verify. A drafter running on the device returns the
    /// tree there (its tensors in the caller's dispose scope); the speculative loop verifies it without reading it back.
    /// </summary>
    DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context);

    /// <summary>
    /// <see cref="Draft(IDraftState, Tensor?, int[], DraftContext)"/> for several requests at once (each call with a
    /// state of its own), returning their trees in order. A drafter that can share work across requests (one head
    /// forward per tree level for all of them) does so; each tree is the one that request would get alone.
    /// </summary>
    IReadOnlyList<DraftTree> Draft(IReadOnlyList<DraftCall> calls) =>
        [.. calls.Select(c => Draft(c.State, c.Features, c.NextTokens, c.Context))];
}

/// <summary>One request's part of a batched <see cref="IDrafter.Draft(IReadOnlyList{DraftCall})"/>: the arguments of a single draft.</summary>
internal sealed record DraftCall(IDraftState State, Tensor? Features, int[] NextTokens, DraftContext Context);

/// <summary>One request's drafting state (<see cref="IDrafter.Begin"/>), e.g. its draft KV cache.</summary>
internal interface IDraftState : IDisposable
{
    /// <summary>Draft positions committed so far: the (feature, next token) pairs consumed.</summary>
    int CommittedLength { get; }

    /// <summary>
    /// A state holding only what is committed, for keeping it after its request ends: a state that reserves room beyond
    /// that (e.g. for tree expansion) returns a right-sized copy, which the caller then owns besides this one.
    /// </summary>
    IDraftState Trimmed() => this;
}

/// <summary>The state of drafters that keep none.</summary>
internal sealed class NoDraftState : IDraftState
{
    private int committed;

    /// <inheritdoc/>
    public int CommittedLength => committed;

    /// <summary>Counts <paramref name="pairs"/> more consumed pairs.</summary>
    public void Consume(int pairs) => committed += pairs;

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>What the target must return for the drafter: residual-stream inputs of some layers (EAGLE-3) and/or the final-norm hidden states (EAGLE-1/2).</summary>
internal sealed record FeatureRequest(int[]? CaptureLayers, bool FinalHidden)
{
    /// <summary>No features (test drafters).</summary>
    public static readonly FeatureRequest None = new(null, false);
}

/// <summary>Per-round information a drafter may use.</summary>
/// <param name="Sampling">true when the target samples (a static-tree drafter then samples its children without replacement).</param>
/// <param name="Random">the request's seeded random source, for drafters that sample.</param>
internal sealed record DraftContext(bool Sampling, Random Random)
{
    /// <summary>This round's tree size (<see cref="Decoding.SpeculationPolicy"/>); null = the drafter's own settings. A
    /// drafter may return a smaller tree than it asks for, never a bigger one.</summary>
    public Decoding.TreeBudget? Budget { get; init; }

    /// <summary>
    /// A constrained request's grammar (null = unconstrained): drafters of this assembly take each node's top-k over the
    /// tokens its grammar state allows. Other drafters may ignore it; the session still prunes what the grammar forbids.
    /// </summary>
    internal DraftGuide? Guide { get; init; }
}
