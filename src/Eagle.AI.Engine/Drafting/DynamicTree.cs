using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// The EAGLE-2/3 dynamic draft tree: a beam over cumulative draft log-probabilities, then the best M candidates of every
/// level together. Candidates are numbered by a flat index: the k children of the root first, then for each expansion
/// step i the k×k children of the k nodes fed at that step (row = fed node, column = its rank-ordered child).
/// </summary>
internal static class DynamicTree
{
    /// <summary>
    /// Expands the tree below <paramref name="root"/> from h [1, H], the draft output at the last committed position.
    /// Each step feeds the k beam nodes at draft position committed + i, every node attending to the committed prefix
    /// and its own ancestors; their K/V are appended to <paramref name="cache"/> and the caller truncates them away.
    /// </summary>
    public static DraftTree Expand(EagleHead head, KVCache cache, Tensor h, int root, TreeSettings settings)
    {
        using var scope = NewDisposeScope();
        int k = Math.Min(settings.TopK, head.DraftVocabSize);
        int depth = settings.Depth;
        int committed = cache.Length;
        var device = head.Device;

        var (v0, i0) = head.LogProbs(h).topk(k);                                   // [1, k]
        var scores = v0.squeeze(0);                                                 // [k] cumulative log-probs of the root's children
        var scoreParts = new List<Tensor> { scores };
        var tokenParts = new List<Tensor> { head.ToTarget(i0.squeeze(0)) };        // target ids, [k]
        var fedParts = new List<Tensor>();                                          // flat candidate index of each fed node
        var fed = arange(k, ScalarType.Int64, device);                              // step 0 feeds the root's children
        var inIds = tokenParts[0];                                                  // [k]
        var inH = h.expand(k, -1);                                                  // [k, H]: all children of the root share its output
        var eye = torch.eye(k, dtype: ScalarType.Bool, device: device);
        var treeMask = eye;                                                         // [k, k·(i+1)]: fed node → tree entries it sees
        var committedVisible = ones(k, committed, ScalarType.Bool, device);         // [k, committed]

        for (int i = 0; i < depth; i++)
        {
            var mask = cat([committedVisible, treeMask], 1);                        // [k, cache.Length + k]
            var positions = full(k, committed + i, ScalarType.Int64, device);       // a level shares one position
            var output = head.Forward(inH, inIds, positions, mask, cache);          // [k, H]
            cache.Advance(k);
            fedParts.Add(fed);

            var (v, ix) = head.LogProbs(output).topk(k);                           // [k, k]
            var cumulative = (v + scores.unsqueeze(1)).reshape(-1);                 // [k·k] children's cumulative log-probs
            var children = head.ToTarget(ix.reshape(-1));                           // [k·k]
            scoreParts.Add(cumulative);
            tokenParts.Add(children);
            if (i == depth - 1) break;                                              // the last level is scored, never fed

            var (best, sel) = cumulative.topk(k);                                   // beam: the best k children overall
            var parentRow = sel.div(k, rounding_mode: RoundingMode.floor);          // which fed node each comes from
            scores = best;
            inH = output.index_select(0, parentRow);                                // children continue from their parent's output
            inIds = children.index_select(0, sel);
            fed = sel + (k + i * k * k);
            treeMask = cat([treeMask.index_select(0, parentRow), eye], 1);          // inherit the parent's row, add self
        }

        // One host transfer per round: the candidates are a few hundred numbers.
        using var hostScores = cat(scoreParts).cpu();
        using var hostTokens = cat(tokenParts).cpu();
        using var hostFed = cat(fedParts).cpu();
        float[] s = hostScores.data<float>().ToArray();
        int[] tokens = hostTokens.data<long>().ToArray().Select(t => (int)t).ToArray();
        int[] parents = CandidateParents(k, depth, hostFed.data<long>().ToArray());
        return Select(s, parents, tokens, root, Math.Min(settings.TotalTokens - 1, s.Length));
    }

    /// <summary>
    /// The parent candidate of every flat candidate (−1 = the root): the first k are the root's children; candidate
    /// k + i·k² + r·k + c is child c of the r-th node fed at step i, whose own flat index is <paramref name="fed"/>[i·k + r].
    /// </summary>
    public static int[] CandidateParents(int k, int depth, long[] fed)
    {
        if (fed.Length != depth * k) throw new ArgumentException($"expected {depth * k} fed nodes, got {fed.Length}", nameof(fed));
        var parents = new int[k + depth * k * k];
        Array.Fill(parents, -1, 0, k);
        for (int j = k; j < parents.Length; j++)
            parents[j] = checked((int)fed[(j - k) / k]);                          // (j − k) / k = i·k + r
        return parents;
    }

    /// <summary>
    /// Keeps the best <paramref name="count"/> candidates and returns them as a tree below <paramref name="root"/>, in
    /// ascending flat index (so parents precede children). Selection is best-first from the root: the highest score
    /// among candidates whose parent is already kept, ties to the lower flat index. For scores that never exceed their
    /// parent's (cumulative log-probabilities) that is exactly the top-<paramref name="count"/> by (score, −index), and
    /// whatever the scores, every kept node's parent is kept (the reference can lose a parent to a tie).
    /// </summary>
    /// <param name="scores">[C] candidate scores; NaN counts as −∞.</param>
    /// <param name="parents">[C] parent candidate of each (−1 = root), each lower than its child's index.</param>
    /// <param name="tokens">[C] target token of each candidate.</param>
    /// <param name="root">the root token.</param>
    /// <param name="count">draft nodes to keep (clamped to C).</param>
    public static DraftTree Select(ReadOnlySpan<float> scores, ReadOnlySpan<int> parents, ReadOnlySpan<int> tokens, int root, int count)
    {
        int c = scores.Length;
        if (parents.Length != c || tokens.Length != c)
            throw new ArgumentException($"scores ({c}), parents ({parents.Length}) and tokens ({tokens.Length}) must have the same length");
        count = Math.Clamp(count, 0, c);
        var children = new List<int>?[c];
        var frontier = new PriorityQueue<int, (float Score, int Index)>(ScoreOrder.Instance);
        for (int j = 0; j < c; j++)
        {
            int p = parents[j];
            float score = float.IsNaN(scores[j]) ? float.NegativeInfinity : scores[j];
            if (p == -1)
                frontier.Enqueue(j, (score, j));
            else if (p < 0 || p >= j)
                throw new ArgumentException($"candidate {j}: parent {p} must be -1 or an earlier candidate", nameof(parents));
            else
                (children[p] ??= []).Add(j);
        }

        var kept = new List<int>(count);
        while (kept.Count < count && frontier.TryDequeue(out int j, out _))
        {
            kept.Add(j);
            foreach (int child in children[j] ?? [])
                frontier.Enqueue(child, (float.IsNaN(scores[child]) ? float.NegativeInfinity : scores[child], child));
        }
        kept.Sort();

        var node = new Dictionary<int, int>(kept.Count);                            // flat index → node index (root = 0)
        var treeTokens = new int[kept.Count + 1];
        var treeParents = new int[kept.Count + 1];
        treeTokens[0] = root;
        treeParents[0] = -1;
        for (int n = 0; n < kept.Count; n++)
        {
            int j = kept[n];
            int p = parents[j];
            int parentNode = p == -1 ? 0 : node.TryGetValue(p, out int pn) ? pn
                : throw new InvalidOperationException($"draft tree selection kept candidate {j} without its parent {p}");
            node[j] = n + 1;
            treeTokens[n + 1] = tokens[j];
            treeParents[n + 1] = parentNode;
        }
        return new DraftTree(treeTokens, treeParents);
    }

    /// <summary>Higher score first; on equal scores the lower flat index.</summary>
    private sealed class ScoreOrder : IComparer<(float Score, int Index)>
    {
        public static readonly ScoreOrder Instance = new();

        public int Compare((float Score, int Index) a, (float Score, int Index) b) =>
            a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Index.CompareTo(b.Index);
    }
}
