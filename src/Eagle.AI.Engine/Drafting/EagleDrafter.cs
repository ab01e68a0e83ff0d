using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// Drafts trees with an EAGLE head (EAGLE-1/2 or EAGLE-3). Each request's state is a one-layer draft KV cache that holds
/// only the committed prefix: each <see cref="Draft(IDraftState, Tensor?, int[], DraftContext)"/> first runs the head over the newly committed (feature, next
/// token) pairs and keeps their K/V, then expands the tree (dynamic or static, per <see cref="TreeSettings"/>) with
/// scratch K/V written after the committed entries and truncated away before it returns.
/// </summary>
internal sealed class EagleDrafter : IDrafter
{
    private readonly bool ownsHead;
    private readonly StaticTree? staticTree;

    /// <summary>Drafts with <paramref name="head"/>; <paramref name="tree"/> defaults to <see cref="TreeSettings.Default"/>.</summary>
    /// <param name="head">The head, bound to its target.</param>
    /// <param name="tree">The tree shape (validated here).</param>
    /// <param name="ownsHead">Whether disposing the drafter disposes the head.</param>
    /// <exception cref="ArgumentOutOfRangeException">A tree option is out of range.</exception>
    /// <exception cref="ArgumentException">The static choices do not describe a tree.</exception>
    public EagleDrafter(EagleHead head, TreeSettings? tree = null, bool ownsHead = true)
    {
        ArgumentNullException.ThrowIfNull(head);
        tree ??= TreeSettings.Default;
        tree.Validate();
        Head = head;
        Tree = tree;
        this.ownsHead = ownsHead;
        int k = Math.Min(tree.TopK, head.DraftVocabSize);
        if (tree.Kind == TreeKind.Static) staticTree = new StaticTree(tree.EffectiveChoices, k);
        ExpansionRoom = staticTree?.FedCount ?? tree.Depth * k;
    }

    /// <summary>
    /// Loads the head in <paramref name="folder"/> for <paramref name="target"/> (see <see cref="EagleHead.Load"/>) and
    /// drafts with it; the drafter owns the head.
    /// </summary>
    /// <exception cref="Checkpoints.CheckpointException">A head file is missing or malformed.</exception>
    /// <exception cref="DraftModelMismatchException">The head does not fit <paramref name="target"/>.</exception>
    /// <param name="folder">The head's folder.</param>
    /// <param name="target">The target it drafts for.</param>
    /// <param name="tree">The tree shape (default <see cref="TreeSettings.Default"/>).</param>
    /// <param name="progress">Called with (tensors loaded, total).</param>
    /// <param name="device">A device of its own for the head; null = the target's home device.</param>
    public static EagleDrafter Load(string folder, LlamaForCausalLM target, TreeSettings? tree = null, Action<int, int>? progress = null, Device? device = null)
    {
        var head = EagleHead.Load(folder, target, progress, device);
        try
        {
            return new EagleDrafter(head, tree);
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }

    /// <summary>The head.</summary>
    public EagleHead Head { get; }

    /// <summary>The tree shape.</summary>
    public TreeSettings Tree { get; }

    /// <summary>Draft cache positions a round's tree expansion uses beyond the committed prefix.</summary>
    public int ExpansionRoom { get; }

    /// <inheritdoc/>
    public FeatureRequest Features => Head.Features;

    /// <inheritdoc/>
    public int MaxTreeTokens => Tree.Kind == TreeKind.Static ? Tree.EffectiveChoices.Count + 1 : Tree.TotalTokens;

    /// <inheritdoc/>
    /// <remarks>The draft cache gets <paramref name="capacity"/> + <see cref="ExpansionRoom"/> positions.</remarks>
    public IDraftState Begin(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        // The cache lives across rounds: keep it out of any dispose scope the caller has open.
        Decoding.DeviceMemory.Allocating(Decoding.DeviceMemory.DraftCache);
        using var scope = NewDisposeScope();
        var cache = Head.NewCache(capacity + ExpansionRoom);
        scope.Detach(scope.DisposablesView.ToList());
        return new State(cache, Head);
    }

    /// <inheritdoc/>
    /// <remarks>Any drafter over the same <see cref="Head"/> can continue the state, whatever its tree shape.</remarks>
    public IDraftState? BeginFrom(int capacity, IDraftState source, int length)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source is not State s || s.Head != Head || length > s.Cache.Length) return null;
        var state = (State)Begin(capacity);
        state.Cache.CopyPrefixFrom(s.Cache, length);
        return state;
    }

    // A request's committed draft K/V, and the head it belongs to.
    private sealed class State(KVCache cache, EagleHead head) : IDraftState
    {
        public KVCache Cache { get; } = cache;

        public EagleHead Head { get; } = head;

        public int CommittedLength => Cache.Length;

        public IDraftState Trimmed() => new State(Cache.Trimmed(), Head);

        public void Dispose() => Cache.Dispose();
    }

    /// <inheritdoc/>
    /// <param name="state">The request's state from <see cref="Begin"/>.</param>
    /// <param name="features">[k, <see cref="EagleHead.FeatureSize"/>]: EAGLE-3's captured layers or EAGLE-1's final hidden states.</param>
    /// <param name="nextTokens">[k] target ids; the last is the root of the returned tree.</param>
    /// <param name="context">Sampling flag and random source (used by static trees only: dynamic trees are deterministic top-k, as in the reference).</param>
    /// <exception cref="InvalidOperationException">The draft cache is full.</exception>
    /// <exception cref="ArgumentException"><paramref name="state"/> did not come from this drafter's <see cref="Begin"/>.</exception>
    /// <exception cref="ArgumentException">Features or tokens do not fit the head.</exception>
    /// <returns>The tree, on the head's device; its tensors belong to the caller's dispose scope (nothing is read back).</returns>
    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context) =>
        Draft([new DraftCall(state, features, nextTokens, context)])[0];

    /// <inheritdoc/>
    /// <remarks>
    /// Every request's newly committed pairs go through one head forward, then each tree level's nodes of all requests
    /// through one more (<see cref="TreeExpansion.Grow"/>): a step of B sessions reads the head's weights and its
    /// lm_head once per level, not B times.
    /// </remarks>
    /// <exception cref="InvalidOperationException">A draft cache is full.</exception>
    /// <exception cref="ArgumentException">A state did not come from this drafter's <see cref="Begin"/>, two calls share one, or features or tokens do not fit the head.</exception>
    public IReadOnlyList<DraftTree> Draft(IReadOnlyList<DraftCall> calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        if (calls.Count == 0) return [];
        var caches = calls.Select(c => Validated(c)).ToArray();
        if (caches.Distinct().Count() != caches.Length) throw new ArgumentException("each call needs a drafting state of its own", nameof(calls));

        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var stable = caches.Select(c => c.Length).ToArray();
        var trees = new List<TreeExpansion>(calls.Count);
        try
        {
            var outputs = Advance(caches, [.. calls.Select(c => c.Features!)], [.. calls.Select(c => c.NextTokens)]);   // [Σk, H]
            int offset = 0;
            var last = new long[calls.Count];                                            // each request's last pair predicts its root's children
            for (int j = 0; j < calls.Count; j++)
            {
                offset += calls[j].NextTokens.Length;
                last[j] = offset - 1;
                trees.Add(Expansion(caches[j].Length, calls[j]));
            }
            var h = outputs.index_select(0, tensor(last, device: Head.Device));           // [B, H]
            return [.. TreeExpansion.Grow(Head, caches, trees, h).Select(t => t.MoveToOuterDisposeScope())];
        }
        finally
        {
            foreach (var t in trees) t.Dispose();
            for (int j = 0; j < caches.Length; j++)
                caches[j].Truncate(Math.Min(caches[j].Length, stable[j] + calls[j].NextTokens.Length)); // tree K/V never become committed
        }
    }

    // The request's tree expansion for this round: the drafter's static shape, or a dynamic tree within its budget; a
    // constrained request's expansion proposes only what its grammar allows.
    private TreeExpansion Expansion(int committed, DraftCall call)
    {
        int root = call.NextTokens[^1];
        if (staticTree is not null) return staticTree.Begin(Head, committed, root, call.Context);
        var budget = call.Context.Budget;
        int total = Math.Min(budget?.TotalTokens ?? Tree.TotalTokens, Tree.TotalTokens);
        // A small round's beam is no wider than the nodes it keeps: the same tree, fewer rows per head step.
        return new DynamicTree(Head, committed, root, DynamicTree.BeamWidth(Tree.TopK, Head.DraftVocabSize, total),
            Math.Min(budget?.Depth ?? Tree.Depth, Tree.Depth), total, call.Context.Guide);
    }

    // Checks one call's arguments and returns its draft cache.
    private KVCache Validated(DraftCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var (state, features, nextTokens, context) = (call.State, call.Features, call.NextTokens, call.Context);
        ArgumentNullException.ThrowIfNull(nextTokens);
        ArgumentNullException.ThrowIfNull(context);
        var c = (state as State ?? throw new ArgumentException($"the state must come from {nameof(Begin)}", nameof(state))).Cache;
        if (features is null)
            throw new ArgumentNullException(nameof(features), $"an EAGLE head needs the target features it asked for in {nameof(Features)}");
        int k = nextTokens.Length;
        if (k == 0) throw new ArgumentException("at least one (feature, next token) pair is needed", nameof(nextTokens));
        if (features.shape is not [var rows, var width] || rows != k || width != Head.FeatureSize)
            throw new ArgumentException(
                $"features must be [{k}, {Head.FeatureSize}] (one row per next token), not [{string.Join(", ", features.shape)}]", nameof(features));
        int vocab = Head.Config.VocabSize;
        foreach (int t in nextTokens)
            if (t < 0 || t >= vocab) throw new ArgumentOutOfRangeException(nameof(nextTokens), t, $"token ids must be in [0, {vocab})");
        if (c.Length + k + ExpansionRoom > c.Capacity)
            throw new InvalidOperationException(
                $"draft cache full: {c.Length} committed + {k} new + {ExpansionRoom} tree positions exceed {c.Capacity} (raise the capacity given to {nameof(Begin)})");
        return c;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException"><paramref name="state"/> did not come from this drafter, or features and tokens do not fit.</exception>
    public void Consume(IDraftState state, Tensor? features, int[] nextTokens)
    {
        ArgumentNullException.ThrowIfNull(nextTokens);
        if (nextTokens.Length == 0) return;
        var c = (state as State ?? throw new ArgumentException($"the state must come from {nameof(Begin)}", nameof(state))).Cache;
        if (features is null || features.shape is not [var rows, var width] || rows != nextTokens.Length || width != Head.FeatureSize)
            throw new ArgumentException($"features must be [{nextTokens.Length}, {Head.FeatureSize}] (one row per next token)", nameof(features));
        if (c.Length + nextTokens.Length > c.Capacity)
            throw new InvalidOperationException($"draft cache full: {c.Length} committed + {nextTokens.Length} new exceed {c.Capacity}");
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        Advance([c], [features], [nextTokens]);
    }

    // Runs the head over every request's newly committed pairs in one forward (draft position p = feature of token p +
    // embedding of token p + 1), keeps their K/V in each request's cache, and returns the head's outputs [Σk, H].
    private Tensor Advance(KVCache[] caches, Tensor[] features, int[][] nextTokens)
    {
        var device = Head.Device;
        var lengths = nextTokens.Select(t => t.Length).ToArray();
        var masks = new Tensor?[caches.Length];
        var positions = new Tensor[caches.Length];
        for (int j = 0; j < caches.Length; j++)
        {
            int stable = caches[j].Length, k = lengths[j];
            positions[j] = HeldScalars.Range(stable, stable + k, device);                // [k]
            masks[j] = k == 1 ? null : LlamaForCausalLM.CausalMask(stable, k, device);  // [k, stable + k]
            if (!TorchRuntime.SameDevice(features[j].device, device)) features[j] = features[j].to(device);
        }
        var ids = tensor(nextTokens.SelectMany(t => t).Select(t => (long)t).ToArray(), device: device);
        var output = Head.Forward(features.Length == 1 ? features[0] : cat(features), ids,
            positions.Length == 1 ? positions[0] : cat(positions), new PackedSequences(lengths, caches, masks));   // [Σk, H]
        for (int j = 0; j < caches.Length; j++) caches[j].Advance(lengths[j]);
        return output;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        staticTree?.Dispose();
        if (ownsHead) Head.Dispose();
    }
}
