using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

public class EagleDrafterTests
{
    /// <summary>
    /// Recomputes, one position at a time along each root-to-node path, the draft distribution of every node that has
    /// children, and checks that its children are exactly its ranked top-k tokens (in target ids). This is what the
    /// batched, masked level-by-level expansion must reproduce.
    /// </summary>
    private static void AssertChildrenAreTopKAlongTheirPath(EagleHead head, Tensor features, int[] next, DraftTree tree, int k, bool allChildren)
    {
        using var guard = no_grad();
        using var cache = head.NewCache(128);
        int n = next.Length;
        using var ids = DraftingFixtures.Ids(next);
        using var positions = HeldScalars.Range(0, n);
        using var mask = n == 1 ? null : LlamaForCausalLM.CausalMask(0, n, CPU);
        using var committed = head.Forward(features, ids, positions, mask, cache);
        cache.Advance(n);
        for (int node = 0; node < tree.Count; node++)
        {
            if (tree.Children[node].Length == 0) continue;
            using var scope = NewDisposeScope();
            var x = committed[^1..];
            var path = tree.PathTo(node);
            for (int d = 1; d < path.Length; d++)
            {
                x = head.Forward(x, DraftingFixtures.Ids([tree.Tokens[path[d]]]), tensor(new long[] { n + d - 1 }), null, cache);
                cache.Advance(1);
            }
            cache.Truncate(n);
            var top = head.LogProbs(x).topk(k).indexes.reshape(-1);
            var expected = head.ToTarget(top).data<long>().ToArray().Select(t => (int)t).ToArray();
            var children = tree.Children[node].Select(c => tree.Tokens[c]).ToArray();
            if (allChildren) Assert.Equal(expected, children);
            else Assert.Equal(expected[..children.Length], children);
        }
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void Dynamic_tree_children_are_the_top_k_of_their_own_path(EagleHeadKind kind)
    {
        using var target = TestModels.Create("C");
        using var head = DraftingFixtures.Head(kind, target, draftVocab: 50);
        // keep every candidate (3 + 3·3·3 = 30) so that every fed node shows all its k children
        using var drafter = new EagleDrafter(head, new TreeSettings { TopK = 3, Depth = 3, TotalTokens = 31 }, ownsHead: false);
        using var drafterState = drafter.Begin(64);
        int[] next = DraftingFixtures.Tokens(new Random(5), 6, target.Config.VocabSize);
        using var features = DraftingFixtures.Features(head, next.Length, 6);
        var tree = drafter.Draft(drafterState, features, next, DraftingFixtures.Greedy);
        Assert.Equal(31, tree.Count);
        Assert.Equal(next[^1], tree.Tokens[0]);
        Assert.Equal(4, tree.MaxDepth);                                            // Depth + 1
        Assert.Equal(1 + 3 * 3, Enumerable.Range(0, tree.Count).Count(i => tree.Children[i].Length > 0)); // root + 3 fed per step
        AssertChildrenAreTopKAlongTheirPath(head, features, next, tree, 3, allChildren: true);
    }

    /// <summary>
    /// A tree of T tokens drafted with a beam (and children per node) of T − 1 is the tree a top-k beam of 10 drafts and
    /// cuts to T: the drafter narrows small rounds' beams on that claim (<see cref="DynamicTree.BeamWidth"/>).
    /// </summary>
    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void A_beam_as_narrow_as_the_kept_nodes_drafts_the_same_tree_as_a_wide_one(EagleHeadKind kind)
    {
        using var guard = no_grad();
        using var target = TestModels.Create("C");
        using var head = DraftingFixtures.Head(kind, target, draftVocab: 50);
        using var cache = head.NewCache(256);
        int[] next = DraftingFixtures.Tokens(new Random(7), 6, target.Config.VocabSize);
        int n = next.Length;
        using var features = DraftingFixtures.Features(head, n, 8);
        using var ids = DraftingFixtures.Ids(next);
        using var positions = HeldScalars.Range(0, n);
        using var mask = LlamaForCausalLM.CausalMask(0, n, CPU);
        using var committed = head.Forward(features, ids, positions, mask, cache);
        cache.Advance(n);
        using var h = committed[^1..];
        foreach (var (total, depth) in new[] { (2, 0), (3, 1), (4, 2), (5, 4), (9, 3), (11, 5) })
        {
            using var scope = NewDisposeScope();
            DraftTree Draft(int k)
            {
                using var tree = new DynamicTree(head, n, next[^1], k, depth, total);
                var drafted = TreeExpansion.Grow(head, [cache], [tree], h)[0];
                cache.Truncate(n);
                return drafted;
            }
            int narrow = DynamicTree.BeamWidth(10, head.DraftVocabSize, total);
            Assert.Equal(Math.Min(10, total - 1), narrow);
            DraftTree wide = Draft(10), small = Draft(narrow);
            Assert.Equal(total, small.Count);
            Assert.Equal(wide.Tokens, small.Tokens);
            Assert.Equal(wide.Parents, small.Parents);
        }
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void Static_greedy_tree_children_are_the_ranked_top_k_of_their_own_path(EagleHeadKind kind)
    {
        using var target = TestModels.Create("B");
        using var head = DraftingFixtures.Head(kind, target);
        using var drafter = new EagleDrafter(head, TreeSettings.Static(), ownsHead: false);
        using var drafterState = drafter.Begin(64);
        int[] next = DraftingFixtures.Tokens(new Random(7), 5, target.Config.VocabSize);
        using var features = DraftingFixtures.Features(head, next.Length, 8);
        var tree = drafter.Draft(drafterState, features, next, DraftingFixtures.Greedy);
        Assert.Equal(26, tree.Count);
        Assert.Equal(new StaticTree(TreeSettings.McSim7b63, 10).Parents, tree.Parents);
        Assert.Null(tree.ParentDistributions);
        AssertChildrenAreTopKAlongTheirPath(head, features, next, tree, 10, allChildren: false);
    }

    [Fact]
    public void Static_sampling_tree_carries_the_draft_distribution_over_the_target_vocabulary()
    {
        using var target = TestModels.Create("A");
        using var head = Eagle3Head.CreateRandom(target, 9, draftVocabSize: 30);
        using var drafter = new EagleDrafter(head, TreeSettings.Static(), ownsHead: false);
        using var drafterState = drafter.Begin(32);
        int[] next = [5, 6, 7];
        using var features = DraftingFixtures.Features(head, 3, 1);
        var tree = drafter.Draft(drafterState, features, next, new DraftContext(true, new Random(3)));
        var q = tree.ParentDistributions!;
        var mapped = Enumerable.Range(0, 30).Select(head.ToTarget).ToHashSet();
        for (int node = 0; node < tree.Count; node++)
        {
            if (tree.Children[node].Length == 0)
            {
                Assert.Null(q[node]);
                continue;
            }
            var dist = q[node]!;
            Assert.Equal(97, dist.Length);
            Assert.InRange(dist.Sum(), 0.999, 1.001);
            for (int v = 0; v < 97; v++) if (!mapped.Contains(v)) Assert.Equal(0f, dist[v]);
            var children = tree.Children[node].Select(c => tree.Tokens[c]).ToArray();
            Assert.Equal(children.Length, children.Distinct().Count());            // without replacement
            Assert.All(children, c => Assert.True(dist[c] > 0));
        }
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3, TreeKind.Dynamic)]
    [InlineData(EagleHeadKind.Eagle3, TreeKind.Static)]
    [InlineData(EagleHeadKind.Eagle1, TreeKind.Dynamic)]
    [InlineData(EagleHeadKind.Eagle1, TreeKind.Static)]
    public void Tree_tokens_are_target_ids_and_tiny_vocabularies_clamp_top_k(EagleHeadKind kind, TreeKind tree)
    {
        using var target = DraftingFixtures.Target(DraftingFixtures.Tiny);
        using var head = DraftingFixtures.Head(kind, target, draftVocab: 4);
        var settings = tree == TreeKind.Static ? TreeSettings.Static() : TreeSettings.Default;
        using var drafter = new EagleDrafter(head, settings, ownsHead: false);
        using var drafterState = drafter.Begin(64);
        var vocab = Enumerable.Range(0, head.DraftVocabSize).Select(head.ToTarget).ToHashSet();
        var r = new Random(1);
        int committed = 0;
        for (int round = 0; round < 4; round++)
        {
            int k = round == 0 ? 5 : r.Next(1, 4);
            int[] next = DraftingFixtures.Tokens(r, k, 6);
            using var features = DraftingFixtures.Features(head, k, round);
            var t = drafter.Draft(drafterState, features, next, new DraftContext(round % 2 == 1, r));
            committed += k;
            Assert.Equal(committed, drafterState.CommittedLength);
            Assert.All(t.Tokens.Skip(1), id => Assert.Contains(id, vocab));
            Assert.All(t.Tokens, id => Assert.InRange(id, 0, 5));
            if (tree == TreeKind.Dynamic)
            {
                int kk = Math.Min(10, head.DraftVocabSize);
                Assert.Equal(Math.Min(59, kk + 7 * kk * kk) + 1, t.Count);
            }
            Assert.All(t.Children, c => Assert.True(c.Length <= head.DraftVocabSize));
        }
    }

    [Theory]
    [InlineData(TreeKind.Dynamic)]
    [InlineData(TreeKind.Static)]
    public void Drafting_leaves_only_the_consumed_pairs_in_the_draft_cache(TreeKind kind)
    {
        using var target = TestModels.Create("C");
        using var head = Eagle3Head.CreateRandom(target, 4, draftVocabSize: 64);
        var settings = kind == TreeKind.Static ? TreeSettings.Static() : TreeSettings.Default;
        int[] next = DraftingFixtures.Tokens(new Random(2), 12, 128);
        using var features = DraftingFixtures.Features(head, 12, 2);

        // the same 12 pairs in rounds of 7, 1, 4 (drafting a tree after each) or all at once
        using var stepwise = new EagleDrafter(head, settings, ownsHead: false);
        using var stepwiseState = stepwise.Begin(40);
        stepwise.Draft(stepwiseState, features[..7], next[..7], DraftingFixtures.Greedy);
        Assert.Equal(7, stepwiseState.CommittedLength);
        stepwise.Draft(stepwiseState, features[7..8], next[7..8], DraftingFixtures.Greedy);
        Assert.Equal(8, stepwiseState.CommittedLength);
        var last = stepwise.Draft(stepwiseState, features[8..], next[8..], DraftingFixtures.Greedy);
        Assert.Equal(12, stepwiseState.CommittedLength);

        using var once = new EagleDrafter(head, settings, ownsHead: false);
        using var onceState = once.Begin(40);
        var direct = once.Draft(onceState, features, next, DraftingFixtures.Greedy);
        Assert.Equal(direct.Tokens, last.Tokens);
        Assert.Equal(direct.Parents, last.Parents);

        // a new state starts over
        using var fresh = stepwise.Begin(40);
        Assert.Equal(0, fresh.CommittedLength);
        var again = stepwise.Draft(fresh, features, next, DraftingFixtures.Greedy);
        Assert.Equal(direct.Tokens, again.Tokens);
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3, TreeKind.Dynamic)]
    [InlineData(EagleHeadKind.Eagle1, TreeKind.Static)]
    public void Live_tensor_count_is_flat_over_50_rounds(EagleHeadKind kind, TreeKind tree)
    {
        using var target = TestModels.Create("A");
        using var head = DraftingFixtures.Head(kind, target);
        var settings = tree == TreeKind.Static ? TreeSettings.Static() : TreeSettings.Default;
        using var drafter = new EagleDrafter(head, settings, ownsHead: false);
        var r = new Random(8);
        var context = new DraftContext(tree == TreeKind.Static, r);
        using var drafterState = drafter.Begin(300);
        void Round(int k)
        {
            using var scope = NewDisposeScope();                                     // the tree's tensors belong to the round
            using var f = DraftingFixtures.Features(head, k, r.Next());
            drafter.Draft(drafterState, f, DraftingFixtures.Tokens(r, k, 97), context);
        }
        Round(10);
        Round(2);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++) Round(1 + i % 4);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Drafts_from_real_target_features()
    {
        using var target = TestModels.Create("C");
        using var drafter = new EagleDrafter(Eagle3Head.CreateRandom(target, 1));
        using var guard = no_grad();
        int[] prompt = TestModels.RandomPrompt(new Random(3), 10, 128);
        using var cache = target.NewCache(64);
        using var ids = DraftingFixtures.Ids(prompt);
        using var positions = HeldScalars.Range(0, prompt.Length);
        var request = new ForwardRequest(CaptureLayers: drafter.Features.CaptureLayers, FinalHidden: drafter.Features.FinalHidden);
        using var output = target.Forward(ids, positions, cache, null, request);
        int root = (int)output.Logits[^1].argmax().item<long>();
        using var drafterState = drafter.Begin(64);
        var tree = drafter.Draft(drafterState, output.Captured, [.. prompt[1..], root], DraftingFixtures.Greedy);
        Assert.Equal(60, tree.Count);
        Assert.Equal(root, tree.Tokens[0]);
    }

    /// <summary>
    /// One batched draft for several requests (different histories, budgets and sampling) gives each request exactly the
    /// tree and committed draft cache it gets when drafted alone, and its draft distributions to fp32 rounding.
    /// </summary>
    [Theory]
    [InlineData(EagleHeadKind.Eagle3, TreeKind.Dynamic)]
    [InlineData(EagleHeadKind.Eagle1, TreeKind.Static)]
    public void Drafting_requests_together_gives_each_its_solo_tree(EagleHeadKind kind, TreeKind shape)
    {
        using var target = TestModels.Create("C");
        using var head = DraftingFixtures.Head(kind, target, draftVocab: 50);
        var settings = shape == TreeKind.Static ? TreeSettings.Static() : new TreeSettings { TopK = 4, Depth = 4, TotalTokens = 24 };
        using var drafter = new EagleDrafter(head, settings, ownsHead: false);
        int requests = 4;
        var solo = Enumerable.Range(0, requests).Select(_ => drafter.Begin(128)).ToArray();
        var batched = Enumerable.Range(0, requests).Select(_ => drafter.Begin(128)).ToArray();
        try
        {
            for (int round = 0; round < 3; round++)
            {
                using var scope = NewDisposeScope();
                var calls = new List<(DraftCall Solo, DraftCall Batched)>();
                for (int j = 0; j < requests; j++)
                {
                    // request j commits its own pairs each round (a prompt first, then a few), some sampled, some with a smaller budget
                    int k = round == 0 ? 3 + 2 * j : 1 + (j + round) % 3;
                    int[] next = DraftingFixtures.Tokens(new Random(100 * round + j), k, target.Config.VocabSize);
                    var features = DraftingFixtures.Features(head, k, 10 * round + j);
                    bool sampling = shape == TreeKind.Static && j % 2 == 1;
                    var budget = j == 2 ? new Engine.Decoding.TreeBudget(6, 2) : (Engine.Decoding.TreeBudget?)null;
                    DraftContext Context() => new(sampling, new Random(7 * j + round)) { Budget = budget };
                    calls.Add((new DraftCall(solo[j], features, next, Context()), new DraftCall(batched[j], features, next, Context())));
                }
                var alone = calls.Select(c => drafter.Draft([c.Solo])[0]).ToArray();
                var together = drafter.Draft([.. calls.Select(c => c.Batched)]);
                for (int j = 0; j < requests; j++)
                {
                    Assert.Equal(alone[j].Tokens, together[j].Tokens);
                    Assert.Equal(alone[j].Parents, together[j].Parents);
                    Assert.Equal(alone[j].HasDistributions, together[j].HasDistributions);
                    // the head's GEMMs over more rows may round differently in the last bits (as the target's batched forward does)
                    if (alone[j].ParentDistributions is { } expected)
                        for (int node = 0; node < expected.Length; node++)
                            if (expected[node] is { } q)
                                Assert.All(q.Zip(together[j].ParentDistributions![node]!), p => Assert.Equal(p.First, p.Second, 1e-4 * p.First + 1e-12));
                    Assert.Equal(solo[j].CommittedLength, batched[j].CommittedLength);
                }
                if (shape == TreeKind.Dynamic) Assert.True(together[2].Count <= 6 && together[0].Count == 24);
            }
        }
        finally
        {
            foreach (var s in solo.Concat(batched)) s.Dispose();
        }
    }

    [Fact]
    public void Drafting_requests_together_needs_a_state_per_request()
    {
        using var target = TestModels.Create("A");
        using var drafter = new EagleDrafter(Eagle3Head.CreateRandom(target, 1, draftVocabSize: 64));
        using var f = DraftingFixtures.Features(drafter.Head, 1, 1);
        using var state = drafter.Begin(16);
        var call = new DraftCall(state, f, [1], DraftingFixtures.Greedy);
        Assert.Throws<ArgumentException>(() => drafter.Draft([call, call]));
        Assert.Equal(0, state.CommittedLength);
        Assert.Empty(drafter.Draft([]));
    }

    [Fact]
    public void Misuse_gives_clear_errors()
    {
        using var target = TestModels.Create("A");
        using var drafter = new EagleDrafter(Eagle1Head.CreateRandom(target, 1));
        using var f = DraftingFixtures.Features(drafter.Head, 2, 1);
        using var foreign = new NoDraftState();
        Assert.Throws<ArgumentException>(() => drafter.Draft(foreign, f, [1, 2], DraftingFixtures.Greedy));  // not from Begin
        using var drafterState = drafter.Begin(4);
        Assert.Throws<ArgumentException>(() => drafter.Draft(drafterState, f, [1, 2, 3], DraftingFixtures.Greedy));       // rows ≠ tokens
        Assert.Throws<ArgumentOutOfRangeException>(() => drafter.Draft(drafterState, f, [1, 97], DraftingFixtures.Greedy));
        Assert.Throws<ArgumentNullException>(() => drafter.Draft(drafterState, null, [1], DraftingFixtures.Greedy));
        drafter.Draft(drafterState, f, [1, 2], DraftingFixtures.Greedy);
        using var big = DraftingFixtures.Features(drafter.Head, 3, 1);
        var e = Assert.Throws<InvalidOperationException>(() => drafter.Draft(drafterState, big, [1, 2, 3], DraftingFixtures.Greedy));
        Assert.Contains("draft cache full", e.Message);
        Assert.Equal(2, drafterState.CommittedLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EagleDrafter(drafter.Head, new TreeSettings { Depth = 0 }, ownsHead: false));
    }
}
