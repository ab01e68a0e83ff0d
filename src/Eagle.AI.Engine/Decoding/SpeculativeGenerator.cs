using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// EAGLE speculative decoding: the drafter proposes a tree of tokens from the target's own features, the target
/// verifies the whole tree in one forward, and <see cref="Acceptance"/> keeps exactly the tokens plain decoding would
/// have produced (greedy) or an exact sample of its distribution (sampling). The round itself is
/// <see cref="SpeculativeSession"/>; this runs one session to the end.
/// </summary>
public sealed class SpeculativeGenerator : IDisposable
{
    private readonly LlamaForCausalLM target;
    private readonly IDrafter drafter;
    private readonly int contextLimit;
    private readonly bool ownsDrafter;

    /// <summary>
    /// Speculative decoding of <paramref name="target"/> with the draft <paramref name="head"/> (bound to that target,
    /// see <see cref="EagleHead.Load"/>); the head stays the caller's. An adaptive <paramref name="tree"/> (the default)
    /// measures this device's round costs here, a few forwards of each size.
    /// </summary>
    /// <param name="target">The model being decoded.</param>
    /// <param name="head">Its EAGLE draft head.</param>
    /// <param name="tree">The tree shape (default <see cref="TreeSettings.Default"/>).</param>
    /// <param name="contextLimit">The most positions a request may use (prompt + answer).</param>
    /// <exception cref="ArgumentOutOfRangeException">A tree option is out of range.</exception>
    public SpeculativeGenerator(LlamaForCausalLM target, EagleHead head, TreeSettings? tree = null, int contextLimit = ContextBudget.DefaultContextLimit)
        : this(target, new EagleDrafter(head, tree, ownsHead: false), contextLimit)
    {
        ownsDrafter = true;
        var eagle = (EagleDrafter)drafter;
        if (eagle.Tree.Adaptive) Costs = SpeculationCosts.Measure(target, eagle);
    }

    /// <summary>Speculative decoding of <paramref name="target"/> with any drafter (tests, benches); the drafter stays the caller's.</summary>
    internal SpeculativeGenerator(LlamaForCausalLM target, IDrafter drafter, int contextLimit = ContextBudget.DefaultContextLimit)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(drafter);
        this.target = target;
        this.drafter = drafter;
        this.contextLimit = contextLimit;
        TreeRoom = drafter.MaxTreeTokens;
    }

    /// <summary>KV positions reserved beyond prompt + max new tokens for the tree being verified (default: the drafter's largest tree).</summary>
    public int TreeRoom { get; init; }

    /// <summary>
    /// This device's measured round costs (<see cref="SpeculationCosts.Measure"/>); required when the drafter's tree is
    /// <see cref="TreeSettings.Adaptive"/>, unused otherwise.
    /// </summary>
    internal SpeculationCosts? Costs { get; init; }

    /// <summary>Prompt tokens one prefill forward takes at most (<see cref="DecodingSession.PrefillChunkTokens"/>).</summary>
    public int PrefillChunkTokens { get; init; } = DecodingSession.DefaultPrefillChunkTokens;

    /// <summary>
    /// A session for <paramref name="prompt"/>, to be stepped alone or batched with others; it starts after the prefix
    /// it shares with <paramref name="reuse"/> (target K/V and draft state), when given.
    /// </summary>
    /// <exception cref="DeviceOutOfMemoryException">Its caches and buffers do not fit in device memory.</exception>
    internal SpeculativeSession Start(IReadOnlyList<int> prompt, GenerationOptions options, Func<IReadOnlyList<int>, bool>? onTokens = null,
        RetainedSequence? reuse = null) =>
        new(target, drafter, prompt, options, onTokens, contextLimit, TreeRoom, Costs, PrefillChunkTokens, reuse, Memory);

    /// <summary>What this generator's requests learned about the head, for the next to start from (see <see cref="AcceptanceMemory"/>).</summary>
    internal AcceptanceMemory Memory { get; } = new();

    /// <summary>Same contract as <see cref="VanillaGenerator.Generate"/>; <paramref name="onTokens"/> sees each round's accepted tokens at once.</summary>
    /// <remarks>
    /// The request's KV caches and tree buffers are allocated once, up front, at their full size; each round then reads
    /// the device once (the accepted path). A request that does not fit in device memory frees what it allocated and
    /// throws <see cref="DeviceOutOfMemoryException"/>; the generator serves the next request as usual.
    /// </remarks>
    /// <exception cref="OperationCanceledException">Cancelled between two rounds; the tokens seen so far were emitted.</exception>
    /// <exception cref="DeviceOutOfMemoryException">The request's caches, tree buffers or a forward did not fit in device memory.</exception>
    public GenerationResult Generate(IReadOnlyList<int> prompt, GenerationOptions options,
        Action<IReadOnlyList<int>>? onTokens = null, CancellationToken cancellationToken = default)
    {
        using var session = Start(prompt, options, onTokens is null ? null : ids => { onTokens(ids); return true; });
        while (!session.Done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.Step();
        }
        return session.Result;
    }

    /// <summary>Frees the drafter this generator made for itself (the head and target stay the caller's).</summary>
    public void Dispose()
    {
        if (ownsDrafter) drafter.Dispose();
    }
}
