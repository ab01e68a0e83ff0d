using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Drafting;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// The verified outcome of one round: the accepted path (node indices and their tokens, root first) and the bonus token.
/// <paramref name="DeviceNodes"/> holds <paramref name="Nodes"/> on the device (int64), for gathering the accepted K/V and
/// features without an upload; it belongs to the caller's dispose scope.
/// </summary>
internal sealed record AcceptedPath(int[] Nodes, int[] Tokens, int Bonus, Tensor? DeviceNodes = null);

/// <summary>
/// Decides which drafted tokens the target accepts, given the target's logits at every tree node. Both rules keep the
/// output distribution exactly the target's (greedy: the same tokens as vanilla greedy). Everything runs on the logits'
/// device over the whole tree at once; the only device→host read is the accepted path itself (one
/// <see cref="HostReads"/> read per call).
/// </summary>
internal static class Acceptance
{
    // Static: a temporary Scalar can be finalized while a native call still reads it.
    private static readonly Scalar Zero = 0.ToScalar();
    private static readonly Scalar One = 1.ToScalar();                          // also every add/sub's alpha: an implicit one can be finalized mid-call
    private static readonly Scalar None = (-1).ToScalar();
    private static readonly Scalar ZeroProbability = 0.0.ToScalar();
    private static readonly Scalar Tiny = 1e-300.ToScalar();
    private static readonly Scalar OneDouble = 1.0.ToScalar();
    private static readonly Scalar LargestFloat = ((double)float.MaxValue).ToScalar();

    /// <summary>
    /// Greedy: starting at the root, follow the first child whose token is the target's argmax after that node; stop
    /// where no child matches. The argmax there is the bonus token. Vectorised: a node wins when its token is what its
    /// parent's argmax wanted and no earlier sibling's is; the accepted path ends at the deepest node whose ancestors all
    /// won (the winners form one chain). logits fp32 [n, V].
    /// </summary>
    public static AcceptedPath Greedy(DraftTree tree, Tensor logits)
    {
        using var scope = NewDisposeScope();
        var t = tree.OnDevice(logits.device);
        var choice = CpuArgMax.Rows(logits) ?? logits.argmax(-1);                  // [n] the target's token after each node
        var wanted = choice.index_select(0, t.Parents.clamp_min(Zero));               // what each node's parent wanted next
        var wins = FirstAmongSiblings(t.Tokens.eq(wanted), EarlierSiblings(t));
        var deepest = Deepest(t, wins.logical_or_(t.Parents.lt(Zero)));            // the root is always accepted
        return ReadPath(tree, t, deepest, choice.index_select(0, deepest));
    }

    /// <summary>
    /// Sampling: at each node, p is the processed target distribution (<see cref="Sampler.Probabilities"/>). Children are
    /// tried in order. With deterministic drafts (dynamic trees, q ≡ 1) a child x is accepted with probability p(x);
    /// if rejected, p(x) is set to 0 and p renormalised before the next sibling. With children sampled from a draft
    /// distribution q (the EAGLE-1 static tree while sampling; <see cref="DraftTree.HasDistributions"/>), x is accepted
    /// with probability min(1, p(x)/q(x)), and on rejection p ← norm(max(0, p − q)) and q loses x (renormalised).
    /// After the last accepted node the bonus token is drawn from what is left of p. Either way the emitted token
    /// sequence is distributed exactly as sampling the target one token at a time.
    /// </summary>
    /// <param name="tree">the verified tree (n nodes).</param>
    /// <param name="logits">fp32 [n, V].</param>
    /// <param name="sampler">gives the processed distributions.</param>
    /// <param name="uniforms">fp64 [≥ n + 1] on the logits' device (<see cref="Sampler.Uniforms"/>): entry c is node c's
    /// acceptance test, the last entry draws the bonus token.</param>
    public static AcceptedPath Sample(DraftTree tree, Tensor logits, Sampler sampler, Tensor uniforms)
    {
        ArgumentNullException.ThrowIfNull(uniforms);
        if (uniforms.shape[0] < tree.Count + 1)
            throw new ArgumentException(
                $"need {tree.Count + 1} uniforms for a {tree.Count}-node tree, got {uniforms.shape[0]}", nameof(uniforms));
        using var scope = NewDisposeScope();
        var t = tree.OnDevice(logits.device);
        int n = tree.Count;
        var p = sampler.Probabilities(logits);                                     // [n, V] fp32
        var parent = t.Parents.clamp_min(Zero);
        var isChild = t.Parents.ge(Zero);
        var earlier = EarlierSiblings(t);
        var sameToken = t.Tokens.unsqueeze(0).eq(t.Tokens.unsqueeze(1));
        var repeated = earlier.logical_and(sameToken).any(1);                      // an earlier sibling has the same token
        var fresh = isChild.logical_and(repeated.logical_not());                   // children actually tried
        var u = uniforms.narrow(0, 0, n);

        var (wins, residual) = t.Distributions is null
            ? WithoutDraftProbabilities(t, p, parent, earlier, fresh, u)
            : WithDraftProbabilities(t, tree.ChildBound, p, parent, earlier, repeated, u);
        var deepest = Deepest(t, wins.logical_or_(isChild.logical_not()));
        var left = residual.index_select(0, deepest).squeeze(0).to(ScalarType.Float64); // what is left of p there
        var drop = zeros(left.shape[0], ScalarType.Float64, left.device)           // its children were all tried and rejected
            .index_add_(0, t.Tokens, t.Parents.eq(deepest).to(ScalarType.Float64), One);
        left = left.masked_fill(drop.gt(Zero), ZeroProbability);
        var bonus = Draw(left, uniforms.narrow(0, uniforms.shape[0] - 1, 1));
        return ReadPath(tree, t, deepest, bonus);
    }

    // q ≡ 1, all siblings at once: a child is accepted with probability p(x) / (mass left after its earlier siblings were
    // rejected), and wins if no earlier sibling was accepted. p's rows are normalised (a parent's mass is 1), so this
    // reads n probabilities, never a whole row. The residual at a node is p without its children's tokens, applied by the
    // caller.
    private static (Tensor Wins, Tensor Residual) WithoutDraftProbabilities(DeviceTree t, Tensor p, Tensor parent, Tensor earlier,
        Tensor fresh, Tensor u)
    {
        using var vocab = p.shape[1].ToScalar();
        var px = p.view(-1).index_select(0, parent.mul(vocab).add_(t.Tokens, One))     // p_parent(x_c), 0 for repeats and the root
            .to(ScalarType.Float64).mul_(fresh);
        var siblings = earlier.to(ScalarType.Float64);
        var left = siblings.matmul(px).neg_().add_(One, One);                      // 1 − the earlier siblings' mass
        var pass = u.mul(left).lt(px).logical_and_(fresh);
        return (FirstAmongSiblings(pass, earlier), p);
    }

    // With recorded draft distributions the residual after a rejection depends on the whole vector, so siblings are
    // taken rank by rank (all nodes of the tree at once; at most ChildBound steps, none reading the host). p (normalised
    // rows, the caller's own) becomes the residual in place, in fp32: a row that rejects its child x becomes
    // max(0, p/Σp − q/Σq); the other rows are left as they are. q is not copied: it loses x through its mass Σq alone,
    // since from then on p(x) is 0 and max(0, 0 − q(x)/Σq) stays 0.
    private static (Tensor Wins, Tensor Residual) WithDraftProbabilities(DeviceTree t, int childBound, Tensor p, Tensor parent,
        Tensor earlier, Tensor repeated, Tensor u)
    {
        int n = (int)t.Tokens.shape[0];
        var device = t.Tokens.device;
        var q = t.Distributions!;                                                   // fp32 [n, V]
        var qSum = q.sum(1, keepdim: true).to(ScalarType.Float64);                  // [n, 1]
        var pSum = ones(n, 1, ScalarType.Float64, device);
        var nodes = HeldScalars.Range(n, device);
        var rank = earlier.sum(1, type: ScalarType.Int64);                          // index among its siblings
        using var spare = ((long)n).ToScalar();
        using var width = ((long)childBound).ToScalar();
        var row = t.Parents.where(t.Parents.ge(Zero), full(n, spare, ScalarType.Int64, device)); // the root: a spare row
        var childAt = full((n + 1) * childBound, None, ScalarType.Int64, device)   // [n, R]: r-th child of each node, −1 if none
            .index_copy_(0, row.mul(width).add_(rank, One), nodes).view(n + 1, childBound).narrow(0, 0, n);
        var chosen = full(n, None, ScalarType.Int64, device);                       // the accepted child of each node
        for (int r = 0; r < childBound; r++)
        {
            var c = childAt.select(1, r);
            var cc = c.clamp_min(Zero);
            var x = t.Tokens.index_select(0, cc).unsqueeze(1);                      // [n, 1]
            var tried = c.ge(Zero).logical_and_(repeated.index_select(0, cc).logical_not());
            var qAtX = q.gather(1, x).to(ScalarType.Float64);                       // [n, 1]
            var px = p.gather(1, x).to(ScalarType.Float64).div(pSum).squeeze(1);
            var qx = qAtX.div(qSum.clamp_min(Tiny)).squeeze(1);
            var pass = tried.logical_and(pSum.squeeze(1).gt(Zero))
                .logical_and_(qx.le(Zero).logical_or_(u.index_select(0, cc).mul(qx).lt(px)));
            chosen = c.where(chosen.lt(Zero).logical_and_(pass), chosen);
            var rejected = tried.logical_and(pass.logical_not()).unsqueeze(1);     // [n, 1]
            // p ← max(0, p/Σp − q/Σq) where rejected: row factors 1/Σp (else 1) and −1/Σq (else 0). 1/Σq is capped to
            // fp32's range: a row with Σq that small has every q(v) ≤ Σq, so the product stays finite.
            var kept = rejected.logical_not();
            var pScale = pSum.reciprocal().masked_fill_(kept, OneDouble).to(ScalarType.Float32);
            var qScale = qSum.clamp_min(Tiny).reciprocal().clamp_max(LargestFloat).neg_()
                .masked_fill_(kept, ZeroProbability).to(ScalarType.Float32);
            p.mul_(pScale).addcmul_(q, qScale, One).clamp_min_(Zero);
            if (r + 1 < childBound) pSum = p.sum(1, keepdim: true).to(ScalarType.Float64);
            qSum = qSum.sub(qAtX.mul(rejected));                             // q loses x
        }
        var wins = chosen.index_select(0, parent).eq(nodes).logical_and_(t.Parents.ge(Zero));
        return (wins, p);
    }

    // [c, s]: whether node s is an earlier sibling of node c (siblings are tried in node order).
    private static Tensor EarlierSiblings(DeviceTree t)
    {
        int n = (int)t.Parents.shape[0];
        var before = ones([n, n], ScalarType.Bool, t.Parents.device).tril(-1);
        return t.Parents.unsqueeze(0).eq(t.Parents.unsqueeze(1)).logical_and_(before);
    }

    // The nodes that pass where no earlier sibling passed: at most one child of each node.
    private static Tensor FirstAmongSiblings(Tensor pass, Tensor earlier) =>
        pass.logical_and(earlier.to(ScalarType.Float32).matmul(pass.to(ScalarType.Float32)).gt(Zero).logical_not());

    // The deepest node whose ancestors-or-self are all accepted, as an int64 [1] index.
    private static Tensor Deepest(DeviceTree t, Tensor accepted)
    {
        var ok = t.Mask.logical_and(accepted.logical_not().unsqueeze(0)).any(1).logical_not();
        return t.Depths.add(One, One).mul(ok).argmax(0, keepdim: true);                    // first deepest; the root scores 1
    }

    // Inverse-CDF draw from unnormalised fp64 probabilities [V] with uniform u [1]: the first index whose cumulative mass
    // exceeds u·total (as Sampler.Draw on the host), never a zero-probability index.
    private static Tensor Draw(Tensor probabilities, Tensor u)
    {
        var cumulative = probabilities.cumsum(0);
        var threshold = u.mul(cumulative.narrow(0, cumulative.shape[0] - 1, 1));
        var index = cumulative.le(threshold).sum(type: ScalarType.Int64);
        var lastPositive = HeldScalars.Range(probabilities.shape[0], probabilities.device).mul(probabilities.gt(Zero)).max();
        return index.minimum(lastPositive).view(1);
    }

    // The one read of a round: path length, bonus, the path's nodes and tokens, packed into one int64 vector.
    private static AcceptedPath ReadPath(DraftTree tree, DeviceTree t, Tensor deepest, Tensor bonus)
    {
        int n = tree.Count, width = Math.Min(n, tree.DepthBound + 1);
        var onPath = t.Mask.index_select(0, deepest).squeeze(0);                   // ancestors-or-self of the deepest node
        using var pad = ((long)n).ToScalar();
        var index = HeldScalars.Range(n, t.Tokens.device);
        var nodes = index.masked_fill(onPath.logical_not(), pad).sort().Values.narrow(0, 0, width); // root first, padded with n
        using var last = ((long)n - 1).ToScalar();
        var tokens = t.Tokens.index_select(0, nodes.clamp_max(last));
        var length = onPath.sum(type: ScalarType.Int64).view(1);
        var host = HostReads.Int64(cat([length, bonus.view(1), nodes, tokens]));
        int count = (int)host[0];
        var path = host.AsSpan(2, count).ToArray().Select(x => (int)x).ToArray();
        var pathTokens = host.AsSpan(2 + width, count).ToArray().Select(x => (int)x).ToArray();
        return new AcceptedPath(path, pathTokens, (int)host[1], nodes.narrow(0, 0, count).MoveToOuterDisposeScope());
    }
}
