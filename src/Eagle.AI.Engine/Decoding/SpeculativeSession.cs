using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// EAGLE speculative decoding as a session. Each step the policy decides between a plain step (the root alone, exactly
/// vanilla) and a drafted round: the drafter proposes a tree from the target's own features, the target verifies root +
/// tree in one forward, and <see cref="Acceptance"/> keeps exactly the tokens plain decoding would have produced
/// (greedy) or an exact sample of its distribution (sampling); their K/V are compacted into the committed prefix.
/// </summary>
internal sealed class SpeculativeSession : DecodingSession
{
    private readonly IDrafter drafter;
    private readonly Sampler sampler;
    private readonly DraftContext context;
    private readonly SpeculationPolicy policy;
    private readonly ForwardRequest forward;
    private readonly KVCache cache;
    private readonly TreeBuffers buffers;
    private readonly IDraftState draftState;

    // Committed tokens the drafter has not consumed yet: their features, each paired with the token that followed
    // (the last is the next root). Plain steps add to them; the next draft takes them all.
    private readonly List<Tensor> pendingFeatures = [];
    private readonly List<int> pendingNext = [];

    // The round in flight between Plan and Complete.
    private TreeBudget? budget;
    private DraftTree? tree;
    private Constraints.JsonFrame[]? treeStates;                                // each verified node's grammar state (constrained only)
    private Tensor? uniforms;
    private int past;
    private double roundStart, drafted;

    private int rounds, acceptedDrafts, verifiedTokens, plainRounds, prefillForwards;
    private double draftMs, verifyMs;

    /// <summary>
    /// Allocates the request's KV cache, tree buffers and drafting state at their full size (prompt + budget +
    /// <paramref name="treeRoom"/>, within <paramref name="contextLimit"/>).
    /// </summary>
    /// <exception cref="DeviceOutOfMemoryException">They do not fit in device memory; nothing stays allocated.</exception>
    public SpeculativeSession(LlamaForCausalLM target, IDrafter drafter, IReadOnlyList<int> prompt, GenerationOptions options,
        Func<IReadOnlyList<int>, bool>? onTokens = null, int contextLimit = ContextBudget.DefaultContextLimit,
        int? treeRoom = null, SpeculationCosts? costs = null, int prefillChunkTokens = DefaultPrefillChunkTokens,
        RetainedSequence? reuse = null, AcceptanceMemory? memory = null)
        : base(target, prompt, options, onTokens, prefillChunkTokens)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        this.drafter = drafter;
        sampler = new Sampler(options.Sampling);
        context = new DraftContext(!sampler.IsGreedy, new Random(options.Sampling.Seed is { } s ? (int)(s * 31 + 7) : Random.Shared.Next()))
        {
            Guide = Constraint is { } c ? new DraftGuide(c) : null,                 // the drafter proposes allowed tokens only
        };
        policy = drafter.Tree is { } shape
            ? SpeculationPolicy.For(shape, drafter.MaxTreeTokens, costs, memory)
            : SpeculationPolicy.Fixed(new TreeBudget(drafter.MaxTreeTokens, TreeSettings.MaxDepth));
        forward = new ForwardRequest(CaptureLayers: drafter.Features.CaptureLayers, FinalHidden: drafter.Features.FinalHidden);
        Capacity = ContextBudget.Capacity(prompt.Count, options.MaxNewTokens, treeRoom ?? drafter.MaxTreeTokens, contextLimit);
        var config = target.Config;
        Bytes = KVCache.BytesFor(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, Capacity, target.DType)
                + TreeBuffers.BytesFor(drafter.MaxTreeTokens, Capacity);
        // Held for the whole request, whatever dispose scope the caller has open: Dispose frees them.
        using var scope = NewDisposeScope();
        try
        {
            Allocating(DeviceMemory.KVCache);
            cache = target.NewCache(Capacity);
            Allocating(DeviceMemory.TreeBuffers);
            buffers = new TreeBuffers(drafter.MaxTreeTokens, Capacity, target.Device);
            Allocation = DeviceMemory.DraftCache;                                   // the drafter announces its own cache
            // A retained sequence's prefix is reused up to what both caches hold: draft pair p (feature of token p,
            // token p + 1) is valid while token p + 1 is still shared, and at least one prompt token is fed.
            int reused = 0;
            if (reuse?.DraftState is { } source)
                reused = Math.Min(Math.Min(Math.Min(source.CommittedLength, reuse.CommonPrefix(prompt) - 1), prompt.Count - 1), reuse.Cache.Length);
            var continued = reused > 0 ? drafter.BeginFrom(Capacity, reuse!.DraftState!, reused) : null;
            draftState = continued ?? drafter.Begin(Capacity);
            if (continued is not null)
            {
                cache.CopyPrefixFrom(reuse!.Cache, reused);
                StartAfter(reused);
            }
            scope.Detach(scope.DisposablesView.ToList());
        }
        catch (Exception e)
        {
            buffers?.Dispose();
            cache?.Dispose();
            if (DeviceMemory.IsOutOfMemory(e))
                throw new DeviceOutOfMemoryException(Capacity, Bytes, target.Device.ToString(), Allocation, e);
            throw;
        }
    }

    /// <inheritdoc/>
    public override int Capacity { get; }

    /// <inheritdoc/>
    public override long Bytes { get; }

    /// <inheritdoc/>
    public override int MinimumTokens => PrefillComplete ? 1 : NextChunk;

    private protected override PlannedDraft? DecideStep(BatchLoad load)
    {
        past = cache.Length;
        roundStart = Now;
        if (!PrefillComplete) return null;
        budget = policy.Next(load, pendingNext.Count, Math.Min(Options.MaxNewTokens - Output.Count, Capacity - past));
        if (budget is null) return null;                                            // a plain step: no tree pays this round

        // Sampling: this round's uniforms go up now, while the device is idle (acceptance runs there).
        uniforms = sampler.IsGreedy ? null : sampler.Uniforms(buffers.MaxTreeTokens + 1, Target.Device);
        Allocating(DeviceMemory.Draft);
        var (features, nextTokens) = TakePending();
        return new PlannedDraft(drafter, new DraftCall(draftState, features, nextTokens, context with { Budget = budget }),
            Math.Min(budget.Value.TotalTokens, drafter.MaxTreeTokens));
    }

    private protected override ForwardItem PlanStep(DraftTree? drafts)
    {
        var device = Target.Device;
        // Prefill, a chunk at a time: logits of the prompt's last position only; the prompt's features wait for the
        // drafter, each paired with the token after it (prompt[1..], then the root).
        if (!PrefillComplete) return PrefillItem(cache, forward);
        tree = null;
        if (drafts is null)
        {
            // A plain step: the root alone, exactly as vanilla decoding.
            var ids = tensor(new long[] { pendingNext[^1] }, device: device);
            return new ForwardItem(ids, HeldScalars.Range(past, past + 1, device), cache, null, forward);
        }
        drafted = Now;

        // Verify root + drafts in one forward: every node sees the committed prefix and its own ancestors. Near the
        // context limit only a prefix of the nodes is verified (parents precede children, so it is still a tree).
        if (drafts.Count > buffers.MaxTreeTokens)
            throw new InvalidOperationException($"the drafter returned a tree of {drafts.Count} nodes, more than its MaxTreeTokens ({buffers.MaxTreeTokens})");
        if (Constraint is { } c) (drafts, treeStates) = c.Prune(drafts);           // drop what the grammar forbids (drafters that ignore the guide)
        tree = drafts.Prefix(Math.Max(1, Capacity - past), device);
        var (treeIds, positions, mask) = buffers.Load(tree.OnDevice(device), past);
        return new ForwardItem(treeIds, positions, cache, mask, forward);
    }

    private protected override void CompleteStep(TargetOutput o)
    {
        if (!PrefillComplete)
        {
            prefillForwards++;
            int start = Prefilled, n = NextChunk;
            bool last = LastChunk;
            ChunkDone();
            if (!last)
            {
                Pending(Features(o)?.clone(), [.. Prompt.Skip(start + 1).Take(n)]);
                return;
            }
            int root = sampler.Next(Constrained(o.Logits[0]));                      // the prefill's one read
            Pending(Features(o)?.clone(), [.. Prompt.Skip(start + 1), root]);
            PrefillDone();
            Emit([root]);
            return;
        }

        int emittedDrafts = 0;
        if (tree is null)
        {
            int[] token = [sampler.Next(Constrained(o.Logits[0]))];
            plainRounds++;
            Emit(token);
            Pending(Features(o)?.clone(), token);
            verifyMs += Now - roundStart;
        }
        else
        {
            // Constrained: every node's logits masked by its own grammar state, so acceptance is exact w.r.t. the
            // constrained distribution.
            var logits = Constraint is { } c ? c.MaskRows(o.Logits, treeStates!) : o.Logits;
            var accepted = sampler.IsGreedy ? Acceptance.Greedy(tree, logits) : Acceptance.Sample(tree, logits, sampler, uniforms!);
            policy.Observe(budget!.Value, accepted.Nodes.Length - 1);
            verifiedTokens += tree.Count;

            // Emit the accepted drafts and the bonus token, cut at a stop id or the budget.
            int[] newTokens = [.. accepted.Tokens.Skip(1), accepted.Bonus];
            int emitted = Emit(newTokens);
            emittedDrafts = Math.Min(emitted, accepted.Nodes.Length - 1);

            // Commit root + emitted drafts: gather their K/V into [past, past + 1 + emittedDrafts). Their features wait
            // for the drafter, each paired with the emitted token after it (a kept stop token has none yet).
            var keep = accepted.DeviceNodes!.narrow(0, 0, 1 + emittedDrafts);
            using var offset = ((long)past).ToScalar();
            cache.Compact(past, keep.Plus(offset));
            int pairs = Math.Min(1 + emittedDrafts, emitted);
            Pending(Features(o)?.index_select(0, keep.narrow(0, 0, pairs)), newTokens[..pairs]);
            draftMs += drafted - roundStart;
            verifyMs += Now - drafted;
        }
        rounds++;
        acceptedDrafts += emittedDrafts;
        if (!Done && cache.Length >= Capacity) ContextFull();                        // context limit: finish with Length
    }

    private protected override GenerationStats Statistics() => new()
    {
        TargetForwards = rounds + prefillForwards,
        Rounds = rounds,
        AcceptedDraftTokens = acceptedDrafts,
        DraftMs = draftMs,
        VerifyMs = verifyMs,
        DraftedRounds = policy.DraftedRounds,
        VerifiedTreeTokens = verifiedTokens,
        TreeSizes = policy.TreeSizes,
    };

    private protected override (int Rounds, int AcceptedDraftTokens, int VerifiedTokens) RoundCounters =>
        (rounds, acceptedDrafts, verifiedTokens + plainRounds);

    private void Allocating(string what)
    {
        Allocation = what;
        DeviceMemory.Allocating(what);
    }

    private Tensor? Features(TargetOutput o) =>
        drafter.Features.CaptureLayers is not null ? o.Captured : drafter.Features.FinalHidden ? o.FinalHidden : null;

    private void Pending(Tensor? features, int[] next)
    {
        if (features is not null) pendingFeatures.Add(features.DetachFromDisposeScope());   // the session owns them until the next draft
        pendingNext.AddRange(next);
    }

    private (Tensor? Features, int[] Next) TakePending()
    {
        // Taken into the round's dispose scope: a view of the one tensor, or their concatenation.
        var features = pendingFeatures.Count switch
        {
            0 => null,
            1 => pendingFeatures[0].narrow(0, 0, pendingFeatures[0].shape[0]),
            _ => cat(pendingFeatures),
        };
        foreach (var f in pendingFeatures) f.Dispose();
        pendingFeatures.Clear();
        int[] next = [.. pendingNext];
        pendingNext.Clear();
        return (features, next);
    }

    private bool relinquished;

    private protected override (KVCache Cache, IDraftState? DraftState) Relinquish()
    {
        // The last committed tokens reach the drafting state too, so a later request can reuse all of them.
        if (pendingNext.Count > 0)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var (features, next) = TakePending();
            if (features is not null || drafter.Features == FeatureRequest.None) drafter.Consume(draftState, features, next);
        }
        relinquished = true;
        return (cache, draftState);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        foreach (var f in pendingFeatures) f.Dispose();
        buffers.Dispose();
        if (relinquished) return;
        draftState.Dispose();
        cache.Dispose();
    }
}
