using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// The vectorised, on-device acceptance rules against a plain host walk of the same tree (children tried in order, the
/// same uniform for the same child): same path, same tokens, same bonus token, on random trees with repeated siblings.
/// </summary>
public class AcceptanceTests
{
    private const int Vocab = 5;

    private static DraftTree RandomTree(Random r, bool withDistributions)
    {
        int n = r.Next(1, 14);
        var parents = Enumerable.Range(0, n).Select(i => i == 0 ? -1 : r.Next(i)).ToArray();
        var tokens = Enumerable.Range(0, n).Select(_ => r.Next(Vocab)).ToArray();  // a tiny vocabulary: repeats and matches are common
        if (!withDistributions) return new DraftTree(tokens, parents);
        var hasChildren = Enumerable.Range(0, n).Select(i => parents.Contains(i)).ToArray();
        var q = Enumerable.Range(0, n).Select(i => hasChildren[i]
            ? Enumerable.Range(0, Vocab).Select(_ => r.Next(4) == 0 ? 0f : (float)r.NextDouble()).ToArray()
            : null).ToArray();
        foreach (var row in q.OfType<float[]>()) if (row.Sum() == 0) row[0] = 1f;
        return new DraftTree(tokens, parents, q);
    }

    [Fact]
    public void Greedy_follows_the_argmax_from_the_root_like_a_host_walk()
    {
        var r = new Random(1);
        for (int trial = 0; trial < 300; trial++)
        {
            using var scope = NewDisposeScope();
            var tree = RandomTree(r, false);
            var logits = randn(tree.Count, Vocab, generator: new TorchSharp.torch.Generator((ulong)trial));
            var best = logits.argmax(-1).data<long>().ToArray();
            var path = new List<int> { 0 };
            int node = 0;
            while (tree.Children[node].FirstOrDefault(c => tree.Tokens[c] == best[node], -1) is var next and >= 0)
            {
                path.Add(next);
                node = next;
            }
            var accepted = Acceptance.Greedy(tree, logits);
            Assert.Equal(path, accepted.Nodes);
            Assert.Equal(path.Select(i => tree.Tokens[i]), accepted.Tokens);
            Assert.Equal((int)best[node], accepted.Bonus);
            Assert.Equal(path.Select(i => (long)i), accepted.DeviceNodes!.data<long>().ToArray());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sampling_accepts_and_draws_exactly_what_the_sequential_rule_does(bool withDistributions)
    {
        var r = new Random(withDistributions ? 3 : 2);
        var sampler = new Sampler(new SamplingOptions { Temperature = 1f });
        int accepted = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            using var scope = NewDisposeScope();
            var tree = RandomTree(r, withDistributions);
            var logits = randn(tree.Count, Vocab, generator: new TorchSharp.torch.Generator((ulong)trial)).Times(2.0);
            var u = Enumerable.Range(0, tree.Count + 1).Select(_ => r.NextDouble()).ToArray();
            var probs = sampler.Probabilities(logits).data<float>().ToArray();
            var (path, bonus) = HostWalk(tree, probs, u);
            var result = Acceptance.Sample(tree, logits, sampler, tensor(u));
            Assert.Equal(path, result.Nodes);
            Assert.Equal(bonus, result.Bonus);
            accepted += path.Count - 1;
        }
        Assert.True(accepted > 100, $"only {accepted} drafts accepted: the trees do not exercise acceptance");
    }

    // The sequential rule, node by node on the host (what Acceptance did before it moved to the device).
    private static (List<int> Path, int Bonus) HostWalk(DraftTree tree, float[] probs, double[] u)
    {
        var path = new List<int> { 0 };
        int node = 0;
        while (true)
        {
            var p = probs.AsSpan(node * Vocab, Vocab).ToArray().Select(x => (double)x).ToArray();
            var q = tree.ParentDistributions?[node]?.Select(x => (double)x).ToArray();
            int accepted = -1;
            var tried = new HashSet<int>();
            foreach (int c in tree.Children[node])
            {
                int x = tree.Tokens[c];
                if (!tried.Add(x)) continue;
                double pSum = p.Sum();
                if (pSum <= 0) break;
                if (q is null)
                {
                    if (u[c] * pSum < p[x]) { accepted = c; break; }
                    p[x] = 0;
                }
                else
                {
                    double qSum = q.Sum(), px = p[x] / pSum, qx = qSum > 0 ? q[x] / qSum : 0;
                    if (qx <= 0 || u[c] * qx < px) { accepted = c; break; }
                    for (int v = 0; v < Vocab; v++) p[v] = Math.Max(0, p[v] / pSum - (qSum > 0 ? q[v] / qSum : 0));
                    q[x] = 0;
                }
            }
            if (accepted < 0)
            {
                double threshold = u[^1] * p.Sum(), cumulative = 0;
                int last = -1;
                for (int v = 0; v < Vocab; v++)
                {
                    if (p[v] <= 0) continue;
                    cumulative += p[v];
                    last = v;
                    if (threshold < cumulative) return (path, v);
                }
                return (path, last);
            }
            path.Add(accepted);
            node = accepted;
        }
    }
}
