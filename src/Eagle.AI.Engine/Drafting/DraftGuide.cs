using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Decoding;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// A constrained request's grammar as its drafter sees it: every draft node's grammar state, and the draft
/// log-probabilities of the nodes fed at a level restricted to the tokens each node's state allows, so the head's top-k
/// (or its draws) are taken over allowed tokens only instead of proposing tokens that verification would prune. Rows
/// are renormalised over what they allow, so a sampled tree records the distribution its children were drawn from. Each
/// level's chosen tokens are read back to step the states: that costs a constrained request one small read per level,
/// and an unconstrained request (no guide) nothing.
/// </summary>
internal sealed class DraftGuide(ConstraintTracker tracker)
{
    private static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();  // static: never finalized mid-call

    /// <summary>The state at the tree's root (the last emitted token).</summary>
    public JsonFrame Root => tracker.State;

    /// <summary>The state of a child with <paramref name="token"/> below a node in <paramref name="parent"/>; null when forbidden (or below a forbidden node).</summary>
    public JsonFrame? Child(JsonFrame? parent, int token) => parent is null ? null : tracker.Next(parent, token);

    /// <summary>The states of the children <paramref name="tokens"/> (target ids, read back here) of <paramref name="parents"/>[row].</summary>
    public JsonFrame?[] Children(IReadOnlyList<JsonFrame?> parents, Tensor tokens, int[] parentRows)
    {
        var ids = HostReads.Int64(tokens);
        var states = new JsonFrame?[ids.Length];
        for (int i = 0; i < ids.Length; i++) states[i] = Child(parents[parentRows[i]], (int)ids[i]);
        return states;
    }

    /// <summary>
    /// <paramref name="logProbs"/> [r, Vd] with row i restricted to what <paramref name="states"/>[i] allows and
    /// renormalised; a null state (a forbidden node: its subtree is never emitted) leaves its row as it is, and a row
    /// with nothing allowed in the draft vocabulary becomes all −∞.
    /// </summary>
    public Tensor Restrict(Tensor logProbs, IReadOnlyList<JsonFrame?> states, EagleHead head)
    {
        int r = (int)logProbs.shape[0], vd = (int)logProbs.shape[1], vocab = head.Config.VocabSize;
        var toTarget = head.DraftToTargetIds;
        var allowed = new bool[r * vd];
        for (int i = 0; i < r; i++)
        {
            var row = allowed.AsSpan(i * vd, vd);
            if (states[i] is not { } s) { row.Fill(true); continue; }
            var target = tracker.AllowedRow(s, vocab);
            for (int d = 0; d < vd; d++) row[d] = target[toTarget[d]];
        }
        var restricted = ConstraintTracker.Forbid(logProbs, allowed).log_softmax(1);
        return restricted.masked_fill(restricted.isnan(), NegativeInfinity);           // all forbidden: −∞, not NaN
    }
}
