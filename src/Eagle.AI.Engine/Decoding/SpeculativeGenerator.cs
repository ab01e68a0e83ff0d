using System.Diagnostics;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// EAGLE speculative decoding: the drafter proposes a tree of tokens from the target's own features, the target
/// verifies the whole tree in one forward, and <see cref="Acceptance"/> keeps exactly the tokens plain decoding would
/// have produced (greedy) or an exact sample of its distribution (sampling).
/// </summary>
public sealed class SpeculativeGenerator(LlamaForCausalLM target, IDrafter drafter, int contextLimit = ContextBudget.DefaultContextLimit)
{
    /// <summary>KV positions reserved beyond prompt + max new tokens for the tree being verified (default: the drafter's largest tree).</summary>
    public int TreeRoom { get; init; } = drafter.MaxTreeTokens;

    /// <summary>
    /// This device's measured round costs (<see cref="SpeculationCosts.Measure"/>); required when the drafter's tree is
    /// <see cref="TreeSettings.Adaptive"/>, unused otherwise.
    /// </summary>
    public SpeculationCosts? Costs { get; init; }

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
        options.Validate();
        int capacity = ContextBudget.Capacity(prompt.Count, options.MaxNewTokens, TreeRoom, contextLimit, int.MaxValue);
        var config = target.Config;
        long bytes = KVCache.BytesFor(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, capacity, target.DType)
                     + TreeBuffers.BytesFor(drafter.MaxTreeTokens, capacity);
        var request = new Request(options);
        try
        {
            request.Allocating(DeviceMemory.KVCache);
            request.Cache = target.NewCache(capacity);
            request.Allocating(DeviceMemory.TreeBuffers);
            request.Buffers = new TreeBuffers(drafter.MaxTreeTokens, capacity, target.Device);
            request.Allocating(DeviceMemory.DraftCache);
            drafter.Reset(capacity);
            return Run(prompt, request, capacity, onTokens, cancellationToken);
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e))
        {
            drafter.Release();
            throw new DeviceOutOfMemoryException(capacity, bytes, target.Device.ToString(), request.Allocation, e);
        }
        finally
        {
            request.Dispose();
        }
    }

    private GenerationResult Run(IReadOnlyList<int> prompt, Request r, int capacity, Action<IReadOnlyList<int>>? onTokens,
        CancellationToken cancellationToken)
    {
        var options = r.Options;
        var sampler = new Sampler(options.Sampling);
        var context = new DraftContext(!sampler.IsGreedy, new Random(options.Sampling.Seed is { } s ? (int)(s * 31 + 7) : Random.Shared.Next()));
        var policy = Policy();
        var stop = new HashSet<int>(options.StopTokenIds ?? target.Config.EosTokenIds);
        var forward = new ForwardRequest(CaptureLayers: drafter.Features.CaptureLayers, FinalHidden: drafter.Features.FinalHidden);
        var device = target.Device;
        var cache = r.Cache!;
        var buffers = r.Buffers!;
        var output = new List<int>();
        var clock = Stopwatch.StartNew();
        double prefillMs, draftMs = 0, verifyMs = 0;
        int rounds = 0, acceptedDrafts = 0, verifiedTokens = 0;
        bool done;

        using var noGrad = no_grad();

        // Prefill: logits of the last position only; the prompt's features wait for the drafter paired with the next
        // token (prompt[1..], then the root).
        int root;
        using (var scope = NewDisposeScope())
        {
            var ids = tensor(prompt.Select(t => (long)t).ToArray(), device: device);
            var positions = HeldScalars.Range(0, prompt.Count, device);
            var last = tensor(new long[] { prompt.Count - 1 }, device: device);
            r.Allocating(DeviceMemory.Forward);
            using var o = target.Forward(ids, positions, cache, null, forward with { LogitRows = last });
            root = sampler.Next(o.Logits[0]);                                       // the prefill's one read
            r.Pending(Features(o)?.clone(), [.. prompt.Skip(1), root]);                  // o is disposed below
        }
        prefillMs = clock.Elapsed.TotalMilliseconds;
        done = Emit([root], output, options, stop, onTokens);

        while (!done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            int past = cache.Length;
            var budget = policy.Next();
            int[] newTokens;
            int emittedDrafts = 0;
            var t0 = clock.Elapsed.TotalMilliseconds;
            if (budget is null)
            {
                // A plain step (no tree pays this round): the root alone, exactly as vanilla decoding.
                var ids = tensor(new long[] { r.PendingNext[^1] }, device: device);
                r.Allocating(DeviceMemory.Forward);
                using var o = target.Forward(ids, HeldScalars.Range(past, past + 1, device), cache, null, forward);
                newTokens = [sampler.Next(o.Logits[0])];
                done = Emit(newTokens, output, options, stop, onTokens);
                if (!done) r.Pending(Features(o)?.clone(), newTokens);
                verifyMs += clock.Elapsed.TotalMilliseconds - t0;
            }
            else
            {
                // Sampling: this round's uniforms go up now, while the device is idle (acceptance runs there).
                var uniforms = sampler.IsGreedy ? null : sampler.Uniforms(buffers.MaxTreeTokens + 1, device);
                r.Allocating(DeviceMemory.Draft);
                var (features, nextTokens) = r.TakePending();
                var tree = drafter.Draft(features, nextTokens, context with { Budget = budget });
                var t1 = clock.Elapsed.TotalMilliseconds;

                // Verify root + drafts in one forward: every node sees the committed prefix and its own ancestors. Near the
                // context limit only a prefix of the nodes is verified (parents precede children, so it is still a tree).
                if (tree.Count > buffers.MaxTreeTokens)
                    throw new InvalidOperationException($"the drafter returned a tree of {tree.Count} nodes, more than its MaxTreeTokens ({buffers.MaxTreeTokens})");
                tree = tree.Prefix(Math.Max(1, capacity - past), device);
                var (ids, positions, mask) = buffers.Load(tree.OnDevice(device), past);
                r.Allocating(DeviceMemory.Forward);
                using var o = target.Forward(ids, positions, cache, mask, forward);
                var accepted = sampler.IsGreedy ? Acceptance.Greedy(tree, o.Logits) : Acceptance.Sample(tree, o.Logits, sampler, uniforms!);
                policy.Observe(budget.Value, accepted.Nodes.Length - 1);
                verifiedTokens += tree.Count;

                // Emit the accepted drafts and the bonus token, cut at a stop id or the budget.
                newTokens = [.. accepted.Tokens.Skip(1), accepted.Bonus];
                int before = output.Count;
                done = Emit(newTokens, output, options, stop, onTokens);
                emittedDrafts = Math.Min(output.Count - before, accepted.Nodes.Length - 1);

                // Commit root + emitted drafts: gather their K/V into [past, past + 1 + emittedDrafts).
                var keep = accepted.DeviceNodes!.narrow(0, 0, 1 + emittedDrafts);
                using var offset = ((long)past).ToScalar();
                cache.Compact(past, keep.Plus(offset));
                if (!done) r.Pending(Features(o)?.index_select(0, keep), newTokens);
                draftMs += t1 - t0;
                verifyMs += clock.Elapsed.TotalMilliseconds - t1;
            }
            rounds++;
            acceptedDrafts += emittedDrafts;
            if (!done && cache.Length >= capacity) done = true;                     // context limit: finish with Length
        }

        double total = clock.Elapsed.TotalMilliseconds;
        var reason = output.Count > 0 && stop.Contains(output[^1]) ? FinishReason.Stop : FinishReason.Length;
        var stats = new GenerationStats
        {
            PromptTokens = prompt.Count,
            GeneratedTokens = output.Count,
            PrefillMs = prefillMs,
            DecodeMs = total - prefillMs,
            TargetForwards = rounds + 1,
            Rounds = rounds,
            AcceptedDraftTokens = acceptedDrafts,
            DraftMs = draftMs,
            VerifyMs = verifyMs,
            DraftedRounds = policy.DraftedRounds,
            VerifiedTreeTokens = verifiedTokens,
            TreeSizes = policy.TreeSizes,
        };
        return new GenerationResult(output, reason, stats);
    }

    private SpeculationPolicy Policy() => drafter.Tree is { } tree
        ? SpeculationPolicy.For(tree, drafter.MaxTreeTokens, Costs)
        : SpeculationPolicy.Fixed(new TreeBudget(drafter.MaxTreeTokens, TreeSettings.MaxDepth));

    // What one request holds on the device (freed however it ends) and which allocation it is making.
    private sealed class Request(GenerationOptions options) : IDisposable
    {
        public GenerationOptions Options { get; } = options;
        public KVCache? Cache { get; set; }
        public TreeBuffers? Buffers { get; set; }
        public string Allocation { get; private set; } = DeviceMemory.KVCache;

        // Committed tokens the drafter has not consumed yet: their features, each paired with the token that followed
        // (the last is the next root). Plain steps add to them; the next draft takes them all.
        private readonly List<Tensor> pendingFeatures = [];
        public List<int> PendingNext { get; } = [];

        public void Pending(Tensor? features, int[] next)
        {
            if (features is not null) pendingFeatures.Add(features.MoveToOuterDisposeScope());
            PendingNext.AddRange(next);
        }

        public (Tensor? Features, int[] Next) TakePending()
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
            int[] next = [.. PendingNext];
            PendingNext.Clear();
            return (features, next);
        }

        public void Allocating(string what)
        {
            Allocation = what;
            if (what != DeviceMemory.DraftCache) DeviceMemory.Allocating(what);    // the drafter announces its own cache
        }

        public void Dispose()
        {
            foreach (var f in pendingFeatures) f.Dispose();
            Buffers?.Dispose();
            Cache?.Dispose();
        }
    }

    private Tensor? Features(TargetOutput o) =>
        drafter.Features.CaptureLayers is not null ? o.Captured : drafter.Features.FinalHidden ? o.FinalHidden : null;

    // Appends tokens up to and including a stop id or the budget; returns true when generation is over.
    private static bool Emit(int[] tokens, List<int> output, GenerationOptions options, HashSet<int> stop, Action<IReadOnlyList<int>>? onTokens)
    {
        int start = output.Count;
        bool done = false;
        foreach (int t in tokens)
        {
            output.Add(t);
            if (stop.Contains(t) || output.Count >= options.MaxNewTokens) { done = true; break; }
        }
        onTokens?.Invoke(output.GetRange(start, output.Count - start));
        return done;
    }
}
