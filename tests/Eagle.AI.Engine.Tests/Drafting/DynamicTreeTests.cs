using Eagle.AI.Engine.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

/// <summary>The pure selection step of the dynamic tree (scores and parents → tree, on the device), without a model.</summary>
public class DynamicTreeTests
{
    private static DraftTree Select(float[] scores, int[] parents, int[] tokens, int root, int count, int depthBound) =>
        DynamicTree.Select(tensor(scores), Longs(parents), Longs(tokens), root, count, depthBound, childBound: parents.Length);

    private static Tensor Longs(int[] values) => tensor(values.Select(v => (long)v).ToArray());

    private static int[] CandidateParents(int k, int depth, long[] fed)
    {
        using var parents = DynamicTree.CandidateParents(k, depth, tensor(fed));
        return parents.data<long>().ToArray().Select(p => (int)p).ToArray();
    }

    /// <summary>
    /// Candidates shaped like a real beam (k root children, then k×k children per step) whose scores are cumulative:
    /// each child adds a non-positive step to its parent's score. Steps are coarse (multiples of 0.5, a third of them 0)
    /// so that equal scores between parents and children, siblings and cousins are common.
    /// </summary>
    private static (float[] Scores, int[] Parents, int[] Tokens) BeamCandidates(Random r, int k, int depth)
    {
        var fed = new long[depth * k];
        int c = k + depth * k * k;
        for (int i = 0; i < depth; i++)
            for (int p = 0; p < k; p++)
            {
                // step 0 feeds the root's children; later steps feed k distinct children of the previous step
                int levelStart = i == 0 ? 0 : k + (i - 1) * k * k;
                int levelSize = i == 0 ? k : k * k;
                fed[i * k + p] = levelStart + (i == 0 ? p : r.Next(levelSize / k) * k + p);
            }
        int[] parents = CandidateParents(k, depth, fed);
        var scores = new float[c];
        for (int j = 0; j < c; j++)
        {
            float step = r.Next(3) == 0 ? 0f : -0.5f * r.Next(1, 4);
            scores[j] = (parents[j] < 0 ? 0f : scores[parents[j]]) + step;
        }
        int[] tokens = Enumerable.Range(0, c).Select(_ => r.Next(1000)).ToArray();
        return (scores, parents, tokens);
    }

    private static void AssertTreeInvariants(DraftTree tree, int expectedNodes, int maxDepth)
    {
        Assert.Equal(expectedNodes + 1, tree.Count);
        Assert.Equal(-1, tree.Parents[0]);
        for (int i = 1; i < tree.Count; i++)
        {
            Assert.InRange(tree.Parents[i], 0, i - 1);                              // parents precede children
            Assert.InRange(tree.Depths[i], 1, maxDepth);
        }
        // mask rows = ancestors + self, depths = root distance, on the device
        var device = tree.OnDevice(CPU);
        var m = device.Mask.data<bool>().ToArray();
        Assert.Equal(tree.Depths.Select(d => (long)d), device.Depths.data<long>().ToArray());
        for (int i = 0; i < tree.Count; i++)
            for (int j = 0; j < tree.Count; j++)
                Assert.Equal(tree.IsAncestorOrSelf(j, i), m[i * tree.Count + j]);
        // paths end at leaves and cover every leaf once
        var leaves = Enumerable.Range(0, tree.Count).Where(i => tree.Children[i].Length == 0).ToArray();
        Assert.Equal(leaves, tree.Paths.Select(p => p[^1]).Order().ToArray());
        foreach (var path in tree.Paths)
        {
            Assert.Equal(0, path[0]);
            for (int d = 1; d < path.Length; d++) Assert.Equal(path[d - 1], tree.Parents[path[d]]);
        }
    }

    [Theory]
    [InlineData(10, 7, 59)]
    [InlineData(10, 5, 59)]
    [InlineData(4, 3, 20)]
    [InlineData(3, 2, 1)]
    [InlineData(2, 4, 500)]   // more than the beam can produce: clamps to all 2 + 4·4 candidates
    [InlineData(1, 6, 6)]
    public void Selection_of_cumulative_scores_with_ties_keeps_every_parent_and_equals_the_top_m(int k, int depth, int m)
    {
        for (int seed = 0; seed < 40; seed++)
        {
            var r = new Random(seed);
            var (scores, parents, tokens) = BeamCandidates(r, k, depth);
            int count = Math.Min(m, scores.Length);
            var tree = Select(scores, parents, tokens, root: 7, count, depth + 1);

            AssertTreeInvariants(tree, count, depth + 1);
            Assert.Equal(7, tree.Tokens[0]);
            // exactly the best `count` by (score desc, flat index asc), in ascending flat index
            var expected = Enumerable.Range(0, scores.Length)
                .OrderByDescending(j => scores[j]).ThenBy(j => j).Take(count).Order().ToArray();
            Assert.Equal(expected.Select(j => tokens[j]), tree.Tokens.Skip(1));
            var node = expected.Select((j, n) => (j, n)).ToDictionary(x => x.j, x => x.n + 1);
            for (int n = 0; n < expected.Length; n++)
            {
                int p = parents[expected[n]];
                Assert.Equal(p < 0 ? 0 : node[p], tree.Parents[n + 1]);
            }
        }
    }

    [Fact]
    public void Child_tied_with_its_parent_at_the_cut_is_not_kept_without_the_parent()
    {
        // root children a (0) and b (1); a's children c (2) and d (3) with c as likely as a (log p = 0).
        // Keeping 2 by value alone could pick {a, c} or {c, b}; ties go to the lower index, so a precedes c.
        float[] scores = [-1f, -1f, -1f, -3f];
        int[] parents = [-1, -1, 0, 0];
        var tree = Select(scores, parents, [10, 11, 12, 13], root: 5, count: 2, depthBound: 2);
        Assert.Equal([5, 10, 11], tree.Tokens);
        Assert.Equal([-1, 0, 0], tree.Parents);
        tree = Select(scores, parents, [10, 11, 12, 13], root: 5, count: 3, depthBound: 2);
        Assert.Equal([5, 10, 11, 12], tree.Tokens);
        Assert.Equal([-1, 0, 0, 1], tree.Parents);
    }

    [Fact]
    public void NaN_and_infinite_scores_still_give_a_valid_tree_of_the_requested_size()
    {
        var r = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            int k = r.Next(1, 6), depth = r.Next(1, 5);
            var (scores, parents, tokens) = BeamCandidates(r, k, depth);
            for (int j = 0; j < scores.Length; j++)                                 // as the beam computes them: parent + step
            {
                float parent = parents[j] < 0 ? 0f : scores[parents[j]];
                float step = r.Next(6) switch { 0 => float.NaN, 1 => float.NegativeInfinity, _ => -(float)Math.Round(r.NextDouble() * 2, 1) };
                scores[j] = parent + step;
            }
            int count = r.Next(1, scores.Length + 1);
            var tree = Select(scores, parents, tokens, root: 0, count, depth + 1);
            AssertTreeInvariants(tree, count, depth + 1);
        }
    }

    [Fact]
    public void Candidate_parents_follow_the_flat_layout()
    {
        // k = 2, depth = 2: candidates 0,1 (root children); 2..5 children of the nodes fed at step 0 (flat 0, 1);
        // 6..9 children of the nodes fed at step 1 (flat 5 and 2)
        int[] parents = CandidateParents(2, 2, [0, 1, 5, 2]);
        Assert.Equal([-1, -1, 0, 0, 1, 1, 5, 5, 2, 2], parents);
        Assert.Throws<ArgumentException>(() => CandidateParents(2, 2, [0, 1, 5]));
    }

    [Fact]
    public void Malformed_candidates_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Select([0f, 0f], [-1], [1, 2], 0, 2, 1));               // lengths differ
        Assert.Throws<ArgumentException>(() => Select([0f, 0f], [-1, -1], [1], 0, 2, 1));
    }
}
