using Eagle.AI.Engine.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>The verified outcome of one round: the accepted path (node indices, root first) and the bonus token.</summary>
public sealed record AcceptedPath(int[] Nodes, int Bonus);

/// <summary>
/// Decides which drafted tokens the target accepts, given the target's logits at every tree node. Both rules keep the
/// output distribution exactly the target's (greedy: the same tokens as vanilla greedy).
/// </summary>
public static class Acceptance
{
    /// <summary>
    /// Greedy: starting at the root, follow the child whose token is the target's argmax after that node; stop where no
    /// child matches. The argmax there is the bonus token. Drafted siblings carry distinct tokens, so the path is the
    /// longest matching one. logits fp32 [M+1, V].
    /// </summary>
    public static AcceptedPath Greedy(DraftTree tree, Tensor logits)
    {
        using var argmax = logits.argmax(-1).cpu();
        var best = argmax.data<long>().ToArray();   // one device→host read per round
        var path = new List<int> { 0 };
        int node = 0;
        while (true)
        {
            int want = (int)best[node];
            int i = Array.FindIndex(tree.Children[node], c => tree.Tokens[c] == want);
            if (i < 0) return new AcceptedPath([.. path], want);
            int next = tree.Children[node][i];
            path.Add(next);
            node = next;
        }
    }

    /// <summary>
    /// Sampling: at each node, p is the processed target distribution (<see cref="Sampler.Probabilities"/>). Children are
    /// tried in order. With deterministic drafts (dynamic trees, q ≡ 1) a child x is accepted with probability p(x);
    /// if rejected, p(x) is set to 0 and p renormalised before the next sibling. With children sampled from a draft
    /// distribution q (the EAGLE-1 static tree while sampling; <see cref="DraftTree.ParentDistributions"/>), x is accepted
    /// with probability min(1, p(x)/q(x)), and on rejection p ← norm(max(0, p − q)) and q loses x (renormalised).
    /// After the last accepted node the bonus token is drawn from what is left of p. Either way the emitted token
    /// sequence is distributed exactly as sampling the target one token at a time.
    /// </summary>
    public static AcceptedPath Sample(DraftTree tree, Tensor logits, Sampler sampler)
    {
        var path = new List<int> { 0 };
        int node = 0;
        while (true)
        {
            float[] p = HostProbabilities(sampler, logits, node);
            var children = tree.Children[node];
            float[]? q = tree.ParentDistributions?[node] is { } qd ? (float[])qd.Clone() : null;
            int accepted = -1;
            var tried = new HashSet<int>();
            foreach (int c in children)
            {
                int x = tree.Tokens[c];
                if (!tried.Add(x)) continue;
                double pSum = Sum(p);
                if (pSum <= 0) break;
                if (q is null)
                {
                    if (sampler.NextUniform() * pSum < p[x]) { accepted = c; break; }
                    p[x] = 0;                                            // residual: p without x
                }
                else
                {
                    double qSum = Sum(q);
                    double px = p[x] / pSum, qx = qSum > 0 ? q[x] / qSum : 0;
                    if (qx <= 0 || sampler.NextUniform() * qx < px) { accepted = c; break; }
                    for (int v = 0; v < p.Length; v++)                   // residual: norm(max(0, p − q))
                        p[v] = (float)Math.Max(0, p[v] / pSum - (qSum > 0 ? q[v] / qSum : 0));
                    q[x] = 0;                                            // the next sibling was drawn without x
                }
            }
            if (accepted < 0) return new AcceptedPath([.. path], sampler.Draw(p));
            path.Add(accepted);
            node = accepted;
        }
    }

    private static float[] HostProbabilities(Sampler sampler, Tensor logits, int node)
    {
        using var scope = NewDisposeScope();
        var probs = sampler.Probabilities(logits[node]).cpu();
        return probs.data<float>().ToArray();
    }

    private static double Sum(float[] v)
    {
        double s = 0;
        foreach (var x in v) s += x;
        return s;
    }
}
