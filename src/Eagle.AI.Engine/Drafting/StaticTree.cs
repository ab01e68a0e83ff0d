using System.Collections;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// The EAGLE-1 static draft tree: a fixed shape given as top-k rank paths (<see cref="TreeSettings.StaticChoices"/>).
/// Nodes are ordered by (depth, path), so parents precede children. Drafting walks it level by level: the children of
/// every node are its top-k draft tokens (greedy) or k tokens drawn without replacement from the draft distribution
/// (sampling), and only nodes that have children are fed through the head.
/// </summary>
internal sealed class StaticTree
{
    /// <summary>Lays out <paramref name="choices"/> (validated, prefix-closed); paths using a rank ≥ <paramref name="k"/> are dropped, so a tiny draft vocabulary still works.</summary>
    public StaticTree(IReadOnlyList<int[]> choices, int k)
    {
        var kept = choices.Where(c => c.All(r => r < k)).ToList();
        kept.Sort((a, b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : ((IStructuralComparable)a).CompareTo(b, Comparer<int>.Default));
        int n = kept.Count + 1;
        Parents = new int[n];
        Ranks = new int[n];
        Depths = new int[n];
        Parents[0] = -1;
        var index = new Dictionary<string, int>(StringComparer.Ordinal) { [""] = 0 };
        var children = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        for (int i = 1; i < n; i++)
        {
            var path = kept[i - 1];
            Parents[i] = index[Key(path[..^1])];
            Ranks[i] = path[^1];
            Depths[i] = path.Length;
            index[Key(path)] = i;
            children[Parents[i]].Add(i);
        }
        Children = children.Select(c => c.ToArray()).ToArray();
        MaxDepth = Depths.Max();
        FedCount = Enumerable.Range(1, n - 1).Count(i => Children[i].Length > 0);
    }

    private static string Key(int[] path) => string.Join(",", path);

    /// <summary>Nodes including the root.</summary>
    public int Count => Parents.Length;
    /// <summary>Parent node of each node (−1 for the root).</summary>
    public int[] Parents { get; }
    /// <summary>Which of its parent's ranked children each node is.</summary>
    public int[] Ranks { get; }
    /// <summary>Depth of each node (root 0).</summary>
    public int[] Depths { get; }
    /// <summary>Children of each node, in node order.</summary>
    public int[][] Children { get; }
    /// <summary>The deepest node's depth.</summary>
    public int MaxDepth { get; }
    /// <summary>Non-root nodes with children: those fed through the head, i.e. the draft cache room a round needs.</summary>
    public int FedCount { get; }

    /// <summary>Nodes at <paramref name="depth"/> that have children (the nodes fed at that level).</summary>
    public int[] InnerNodesAt(int depth) =>
        Enumerable.Range(0, Count).Where(i => Depths[i] == depth && Children[i].Length > 0).ToArray();

    /// <summary>
    /// Fills the tree below <paramref name="root"/> from h [1, H], the draft output at the last committed position. The
    /// inner nodes of depth d are fed at draft position committed + d − 1, each attending to the committed prefix and
    /// its own ancestors; their K/V are appended to <paramref name="cache"/> and the caller truncates them away.
    /// </summary>
    public DraftTree Expand(EagleHead head, KVCache cache, Tensor h, int root, DraftContext context)
    {
        using var scope = NewDisposeScope();
        int committed = cache.Length;
        var device = head.Device;
        var tokens = new int[Count];
        tokens[0] = root;
        var distributions = context.Sampling ? new float[]?[Count] : null;
        var slot = new int[Count];                                                  // cache position of each fed node

        int[] level = [0];                                                          // nodes whose children are chosen next
        var levelLogProbs = head.LogProbs(h);                                       // [1, Vd]
        var levelOutputs = h;                                                       // [1, H]
        for (int depth = 1; depth <= MaxDepth; depth++)
        {
            ChooseChildren(head, level, levelLogProbs, tokens, distributions, context);
            int[] fed = InnerNodesAt(depth);
            if (fed.Length == 0) break;

            var parentRows = fed.Select(n => (long)Array.IndexOf(level, Parents[n])).ToArray();
            int past = cache.Length, f = fed.Length;
            var mask = new bool[f * (past + f)];                                    // [f, past + f]
            for (int r = 0; r < f; r++)
            {
                slot[fed[r]] = past + r;
                Array.Fill(mask, true, r * (past + f), committed);
                for (int a = fed[r]; a != 0; a = Parents[a]) mask[r * (past + f) + slot[a]] = true;
            }
            var output = head.Forward(
                levelOutputs.index_select(0, tensor(parentRows, device: device)), // children continue from their parent's output
                tensor(fed.Select(n => (long)tokens[n]).ToArray(), device: device),
                full(f, committed + depth - 1, ScalarType.Int64, device),
                tensor(mask, device: device).view(f, past + f),
                cache);                                                             // [f, H]
            cache.Advance(f);
            level = fed;
            levelLogProbs = head.LogProbs(output);                                  // [f, Vd]
            levelOutputs = output;
        }
        return new DraftTree(tokens, Parents, distributions);
    }

    // Picks the ranked children of each node in `level` from its draft log-probabilities [level, Vd].
    private void ChooseChildren(EagleHead head, int[] level, Tensor logProbs, int[] tokens, float[]?[]? distributions, DraftContext context)
    {
        int width = level.SelectMany(n => Children[n]).Select(c => Ranks[c] + 1).DefaultIfEmpty(0).Max();
        if (width == 0) return;
        int vd = (int)logProbs.shape[1];
        if (distributions is null)
        {
            using var top = logProbs.topk(width).indexes;
            using var host = top.cpu();
            var ids = host.data<long>().ToArray();                                 // [level, width]
            for (int r = 0; r < level.Length; r++)
                foreach (int c in Children[level[r]])
                    tokens[c] = head.ToTarget((int)ids[r * width + Ranks[c]]);
            return;
        }
        using var probs = logProbs.exp();
        using var hostProbs = probs.cpu();
        var p = hostProbs.data<float>().ToArray();                                 // [level, Vd]
        for (int r = 0; r < level.Length; r++)
        {
            int node = level[r];
            if (Children[node].Length == 0) continue;
            var row = new ReadOnlySpan<float>(p, r * vd, vd);
            int draws = Children[node].Max(c => Ranks[c]) + 1;
            var drawn = DrawWithoutReplacement(row, draws, context.Random);
            foreach (int c in Children[node]) tokens[c] = head.ToTarget(drawn[Ranks[c]]);
            // q over the target vocabulary, for the draft-probability acceptance rule
            var q = new float[head.Config.VocabSize];
            for (int i = 0; i < vd; i++) q[head.ToTarget(i)] = row[i];
            distributions[node] = q;
        }
    }

    /// <summary>
    /// <paramref name="count"/> distinct indices drawn one after another from <paramref name="p"/> renormalised over the
    /// indices not yet drawn (sampling without replacement). Once the remaining mass is zero, the lowest untaken indices follow.
    /// </summary>
    public static int[] DrawWithoutReplacement(ReadOnlySpan<float> p, int count, Random random)
    {
        if (count > p.Length) throw new ArgumentOutOfRangeException(nameof(count), count, $"cannot draw more than {p.Length} distinct tokens");
        var taken = new bool[p.Length];
        var drawn = new int[count];
        for (int t = 0; t < count; t++)
        {
            double remaining = 0;
            for (int i = 0; i < p.Length; i++)
                if (!taken[i] && p[i] > 0) remaining += p[i];
            int pick = -1;
            if (remaining > 0)
            {
                double u = random.NextDouble() * remaining, acc = 0;
                for (int i = 0; i < p.Length; i++)
                {
                    if (taken[i] || p[i] <= 0) continue;
                    acc += p[i];
                    pick = i;                                                      // the last positive one absorbs rounding
                    if (acc > u) break;
                }
            }
            if (pick < 0) pick = Array.IndexOf(taken, false);
            taken[pick] = true;
            drawn[t] = pick;
        }
        return drawn;
    }
}
