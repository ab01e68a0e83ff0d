using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// The EAGLE-2/3 dynamic draft tree: a beam over cumulative draft log-probabilities, then the best M candidates of every
/// level together. Candidates are numbered by a flat index: the k children of the root first, then for each expansion
/// step i the k×k children of the k nodes fed at that step (row = fed node, column = its rank-ordered child).
/// Each step feeds the k beam nodes at draft position committed + i, every node attending to the committed prefix and
/// its own ancestors; nothing is read back: the tree is selected and laid out on the device.
/// </summary>
/// <param name="head">The draft head.</param>
/// <param name="committed">Draft positions the cache holds before the first level is fed.</param>
/// <param name="root">The root token.</param>
/// <param name="topK">Children per expanded node (clamped to the draft vocabulary).</param>
/// <param name="depth">Expansion passes after the root's children (0 = the root's children only).</param>
/// <param name="totalTokens">Tokens to keep, root included.</param>
/// <param name="guide">A constrained request's grammar: every node's top-k is taken over the tokens its state allows, and
/// only candidates with a finite score (allowed, below allowed ancestors) are kept; null = unconstrained (nothing read back).</param>
internal sealed class DynamicTree(EagleHead head, int committed, int root, int topK, int depth, int totalTokens, DraftGuide? guide = null) : TreeExpansion
{
    // Static: a temporary Scalar can be finalized while a native call still reads it.
    private static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();
    private static readonly Scalar Zero = 0L.ToScalar();

    private readonly int k = Math.Min(topK, head.DraftVocabSize);
    private readonly List<Tensor> scoreParts = [], tokenParts = [], fedParts = [];
    private Tensor? scores, fed, inIds, inH, eye, treeMask, committedVisible;
    private int step = -1;                                                          // levels fed so far, minus one
    private Constraints.JsonFrame?[]? fedStates;                                    // guided: the grammar state of each fed node

    /// <inheritdoc/>
    public override LevelFeed? Next(Tensor outputs, Tensor logProbs)
    {
        var device = head.Device;
        if (step < 0)
        {
            if (guide is not null) logProbs = guide.Restrict(logProbs, [guide.Root], head);
            var (v0, i0) = logProbs.topk(k);                                        // [1, k]
            scores = v0.squeeze(0);                                                 // [k] cumulative log-probs of the root's children
            scoreParts.Add(scores);
            tokenParts.Add(head.ToTarget(i0.squeeze(0)));                           // target ids, [k]
            fed = HeldScalars.Range(k, device);                                     // step 0 feeds the root's children
            inIds = tokenParts[0];                                                  // [k]
            inH = outputs.expand(k, -1);                                            // [k, H]: all children of the root share its output
            eye = torch.eye(k, dtype: ScalarType.Bool, device: device);
            treeMask = eye;                                                         // [k, k·(i+1)]: fed node → tree entries it sees
            committedVisible = ones(k, committed, ScalarType.Bool, device);         // [k, committed]
            if (guide is not null && depth > 0) fedStates = guide.Children([guide.Root], inIds, new int[k]);
        }
        else
        {
            fedParts.Add(fed!);
            if (guide is not null) logProbs = guide.Restrict(logProbs, fedStates!, head);
            var (v, ix) = logProbs.topk(k);                                        // [k, k]
            var cumulative = v.Plus(scores!.unsqueeze(1)).reshape(-1);             // [k·k] children's cumulative log-probs
            var children = head.ToTarget(ix.reshape(-1));                           // [k·k]
            scoreParts.Add(cumulative);
            tokenParts.Add(children);
            if (step == depth - 1) return null;                                     // the last level is scored, never fed

            var (best, sel) = cumulative.topk(k);                                   // beam: the best k children overall
            using var width = ((long)k).ToScalar();                                 // held: see HeldScalars
            var parentRow = sel.div(width, rounding_mode: RoundingMode.floor);      // which fed node each comes from
            scores = best;
            inH = outputs.index_select(0, parentRow);                               // children continue from their parent's output
            inIds = children.index_select(0, sel);
            fed = sel.Plus((long)(k + step * k * k));
            treeMask = cat([treeMask!.index_select(0, parentRow), eye!], 1);        // inherit the parent's row, add self
            if (guide is not null && step + 1 < depth)
            {
                var rows = HostReads.Int64(parentRow);
                fedStates = guide.Children(fedStates!, inIds, [.. rows.Select(r => (int)r)]);
            }
        }
        if (++step == depth) return null;                                           // depth 0: the root's children only
        var mask = cat([committedVisible!, treeMask], 1);                           // [k, cache.Length + k]
        var positions = HeldScalars.Full([k], committed + step, ScalarType.Int64, device); // a level shares one position
        return new LevelFeed(inH, inIds!, positions, mask);
    }

    /// <summary>
    /// The top-k (beam width and children per fed node) a tree of <paramref name="totalTokens"/> needs: the configured
    /// top-k clamped to the draft vocabulary and to the totalTokens − 1 nodes kept. Narrower than that changes nothing:
    /// a kept node is outranked by fewer than totalTokens − 1 candidates, so it is within the top totalTokens − 1 of its level and of its siblings,
    /// and so is each ancestor (scores never rise from parent to child); and a candidate only a wider beam would reach
    /// hangs below a node that at least top-k others of its level outrank. So a small round drafts the same tree while
    /// each head step feeds a few rows instead of top-k.
    /// </summary>
    public static int BeamWidth(int topK, int draftVocab, int totalTokens) => Math.Max(1, Math.Min(Math.Min(topK, draftVocab), totalTokens - 1));

    /// <inheritdoc/>
    public override DraftTree Finish()
    {
        var device = head.Device;
        var candidates = cat(scoreParts);                                           // [k + depth·k²], all on the device
        int count = Math.Min(totalTokens - 1, (int)candidates.shape[0]);
        // Guided: a candidate with score −∞ is forbidden or below a forbidden node; keeping only finite ones keeps the
        // tree closed (a parent's score is at least its child's).
        if (guide is not null) count = Math.Min(count, HostReads.Float32(candidates).Count(float.IsFinite));
        var fedAll = depth == 0 ? empty(0, ScalarType.Int64, device) : cat(fedParts);
        return Select(candidates, CandidateParents(k, depth, fedAll), cat(tokenParts), root, count, depth + 1, k);
    }

    /// <summary>
    /// The parent candidate of every flat candidate (−1 = the root), int64 [k + depth·k²]: the first k are the root's
    /// children; candidate k + i·k² + r·k + c is child c of the r-th node fed at step i, whose own flat index is
    /// <paramref name="fed"/>[i·k + r].
    /// </summary>
    /// <param name="k">Children per expanded node (the tree's top-k).</param>
    /// <param name="depth">Expansion steps after the root's children.</param>
    /// <param name="fed">int64 [depth·k]: the flat index of each fed node, step by step.</param>
    public static Tensor CandidateParents(int k, int depth, Tensor fed)
    {
        if (fed.shape is not [var f] || f != depth * k)
            throw new ArgumentException($"expected {depth * k} fed nodes, got [{string.Join(", ", fed.shape)}]", nameof(fed));
        using var scope = NewDisposeScope();
        using var none = (-1L).ToScalar();
        var rootChildren = full(k, none, ScalarType.Int64, fed.device);
        var parents = cat([rootChildren, fed.unsqueeze(1).expand(-1, k).reshape(-1)]);  // (j − k) / k = i·k + r
        return parents.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Keeps the best <paramref name="count"/> candidates and returns them as a tree below <paramref name="root"/>, in
    /// ascending flat index (so parents precede children), without leaving the device: the top
    /// <paramref name="count"/> by (score, −index), found by a stable descending sort. Scores must not increase from
    /// parent to child (cumulative log-probabilities; NaN counts as −∞); then a child never precedes its parent in that
    /// order (a tie goes to the lower index, the parent), so every kept node's parent is kept — where the reference can
    /// lose a parent to a tie.
    /// </summary>
    /// <param name="scores">fp32 [C] candidate scores.</param>
    /// <param name="parents">int64 [C] parent candidate of each (−1 = root), each lower than its child's index.</param>
    /// <param name="tokens">int64 [C] target token of each candidate.</param>
    /// <param name="root">the root token.</param>
    /// <param name="count">draft nodes to keep (clamped to C).</param>
    /// <param name="depthBound">the deepest a candidate can be (root 0).</param>
    /// <param name="childBound">the most children a candidate can have.</param>
    public static DraftTree Select(Tensor scores, Tensor parents, Tensor tokens, int root, int count, int depthBound, int childBound)
    {
        long c = scores.shape[0];
        if (parents.shape[0] != c || tokens.shape[0] != c)
            throw new ArgumentException($"scores ({c}), parents ({parents.shape[0]}) and tokens ({tokens.shape[0]}) must have the same length");
        count = (int)Math.Clamp(count, 0, c);
        var device = scores.device;
        using var none = (-1L).ToScalar();
        using var rootToken = ((long)root).ToScalar();
        var s = scores.masked_fill(scores.isnan(), NegativeInfinity);
        var kept = s.sort(descending: true, stable: true).Indices.narrow(0, 0, count).sort().Values;  // ascending flat index
        var node = zeros(c, ScalarType.Int64, device)                              // flat index → node index (root 0)
            .index_copy_(0, kept, HeldScalars.Range(1, count + 1, device));
        var parent = parents.index_select(0, kept);
        var treeParents = node.index_select(0, parent.clamp_min(Zero)).masked_fill(parent.lt(Zero), Zero);
        return DraftTree.FromDevice(
            cat([full(1, rootToken, ScalarType.Int64, device), tokens.index_select(0, kept)]),
            cat([full(1, none, ScalarType.Int64, device), treeParents]),
            depthBound, childBound);
    }
}
