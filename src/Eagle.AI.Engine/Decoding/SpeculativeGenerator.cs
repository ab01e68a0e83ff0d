using System.Diagnostics;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
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

    /// <summary>Same contract as <see cref="VanillaGenerator.Generate"/>; <paramref name="onTokens"/> sees each round's accepted tokens at once.</summary>
    /// <exception cref="OperationCanceledException">Cancelled between two rounds; the tokens seen so far were emitted.</exception>
    public GenerationResult Generate(IReadOnlyList<int> prompt, GenerationOptions options,
        Action<IReadOnlyList<int>>? onTokens = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var sampler = new Sampler(options.Sampling);
        var context = new DraftContext(!sampler.IsGreedy, new Random(options.Sampling.Seed is { } s ? (int)(s * 31 + 7) : Random.Shared.Next()));
        var stop = new HashSet<int>(options.StopTokenIds ?? target.Config.EosTokenIds);
        int capacity = ContextBudget.Capacity(prompt.Count, options.MaxNewTokens, TreeRoom, contextLimit, int.MaxValue);
        var request = new ForwardRequest(CaptureLayers: drafter.Features.CaptureLayers, FinalHidden: drafter.Features.FinalHidden);
        var device = target.Device;
        var output = new List<int>();
        var clock = Stopwatch.StartNew();
        double prefillMs, draftMs = 0, verifyMs = 0;
        int rounds = 0, acceptedDrafts = 0;
        bool done;

        using var noGrad = no_grad();
        using var cache = target.NewCache(capacity);
        drafter.Reset(capacity);

        // Prefill: the prompt's features go to the drafter paired with the next token (prompt[1..], then the root).
        Tensor? features;
        int root;
        using (var scope = NewDisposeScope())
        {
            var ids = tensor(prompt.Select(t => (long)t).ToArray(), device: device);
            var positions = arange(0, prompt.Count, ScalarType.Int64, device);
            using var o = target.Forward(ids, positions, cache, null, request);
            using var last = o.Logits[prompt.Count - 1];
            root = sampler.Next(last);
            features = Features(o)?.clone().MoveToOuterDisposeScope(); // o (and its features) is disposed below
        }
        prefillMs = clock.Elapsed.TotalMilliseconds;
        int[] nextTokens = [.. prompt.Skip(1), root];
        done = Emit([root], output, options, stop, onTokens);

        while (!done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var t0 = clock.Elapsed.TotalMilliseconds;
            var tree = drafter.Draft(features, nextTokens, context);
            features?.Dispose();
            var t1 = clock.Elapsed.TotalMilliseconds;

            // Verify root + drafts in one forward: every node sees the committed prefix and its own ancestors.
            int past = cache.Length;
            tree = Fit(tree, capacity - past);
            using var o = target.Forward(tree.TokenTensor(device), tree.Positions(past, device), cache,
                tree.AttentionMask(past, device), request);
            var accepted = sampler.IsGreedy ? Acceptance.Greedy(tree, o.Logits) : Acceptance.Sample(tree, o.Logits, sampler);
            var t2 = clock.Elapsed.TotalMilliseconds;

            // Emit the accepted drafts and the bonus token, cut at a stop id or the budget.
            int[] newTokens = [.. accepted.Nodes.Skip(1).Select(n => tree.Tokens[n]), accepted.Bonus];
            int before = output.Count;
            done = Emit(newTokens, output, options, stop, onTokens);
            int emittedDrafts = Math.Min(output.Count - before, accepted.Nodes.Length - 1);
            rounds++;
            acceptedDrafts += emittedDrafts;

            // Commit root + emitted drafts: gather their K/V into [past, past + 1 + emittedDrafts).
            var keep = accepted.Nodes.Take(1 + emittedDrafts).ToArray();
            using var slots = tensor(keep.Select(n => (long)(past + n)).ToArray(), device: device);
            cache.Compact(past, slots);
            if (!done && cache.Length >= capacity) done = true; // context limit: finish with Length
            if (!done)
            {
                using var rows = tensor(keep.Select(n => (long)n).ToArray(), device: device);
                features = Features(o)?.index_select(0, rows).MoveToOuterDisposeScope();
                nextTokens = newTokens;
            }
            else features = null;
            draftMs += t1 - t0;
            verifyMs += t2 - t1;
        }
        features?.Dispose();

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
        };
        return new GenerationResult(output, reason, stats);
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

    // Near the context limit, keep a prefix of the nodes (parents precede children, so any prefix is a tree).
    private static DraftTree Fit(DraftTree tree, int room)
    {
        if (tree.Count <= room) return tree;
        int n = Math.Max(1, room);
        return new DraftTree(tree.Tokens[..n], tree.Parents[..n], tree.ParentDistributions?[..n]);
    }
}
