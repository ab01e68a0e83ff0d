using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// The acceptance rules' output distribution on fixed target logits, many rounds in seconds: the empirical distribution
/// of (accepted path, bonus token) against the exact one, computed in float64 from the rule's statement, by a chi-square
/// test. With deterministic drafts (q ≡ 1) the exact law is the target's own: walking the tree, each emitted token is
/// drawn from p at the node it follows, and it continues the path when it is the first child with that token. With
/// children drawn from q (the EAGLE-1 rule, min(1, p/q)) every round draws a fresh tree, and the exact law of a node is
/// enumerated over its children's draws; that each node then emits exactly p is checked on the enumerated law itself.
/// </summary>
public class AcceptanceDistributionTests
{
    private const int Vocab = 6;
    private const int Rounds = 5_000;

    public static readonly TheoryData<string> Settings = ["t1", "t0.7-p0.8", "k3"];

    private static SamplingOptions Sampling(string name, int seed) => name switch
    {
        "t1" => new SamplingOptions { Temperature = 1f, Seed = seed },
        "t0.7-p0.8" => new SamplingOptions { Temperature = 0.7f, TopP = 0.8f, Seed = seed },
        "k3" => new SamplingOptions { Temperature = 1f, TopK = 3, Seed = seed },
        _ => throw new ArgumentException(name),
    };

    // Fixed logits per node, boosted at the tokens of some children so that paths of two and three drafts are common.
    private static Tensor Logits(int nodes, int seed, (int Node, int Token)[] boosts)
    {
        var r = new Random(seed);
        var l = Enumerable.Range(0, nodes * Vocab).Select(_ => (float)(1.5 * (r.NextDouble() - 0.5))).ToArray();
        foreach (var (node, token) in boosts) l[node * Vocab + token] += 1.5f;
        return tensor(l).view(nodes, Vocab);
    }

    private static double[][] Processed(Sampler sampler, Tensor logits)
    {
        using var p = sampler.Probabilities(logits);
        var flat = p.data<float>().ToArray();
        return Enumerable.Range(0, (int)logits.shape[0]).Select(i =>
        {
            var row = flat.AsSpan(i * Vocab, Vocab).ToArray().Select(v => (double)v).ToArray();
            double sum = row.Sum();
            return row.Select(v => v / sum).ToArray();
        }).ToArray();
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void Deterministic_drafts_give_the_target_distribution(string setting)
    {
        // Root 0 → 1 (token 2), 2 (token 4), 3 (token 2 again: skipped), 4 (token 1); 1 → 5 (3), 6 (0); 2 → 7 (5); 5 → 8 (1).
        int[] parents = [-1, 0, 0, 0, 0, 1, 1, 2, 5];
        int[] tokens = [0, 2, 4, 2, 1, 3, 0, 5, 1];
        var tree = new DraftTree(tokens, parents);
        using var logits = Logits(tree.Count, 7, [(0, 2), (0, 4), (1, 3), (5, 1), (2, 5)]);
        var sampler = new Sampler(Sampling(setting, 11));
        var p = Processed(sampler, logits);

        var exact = new Dictionary<string, double>();
        void Walk(int node, double prob, string path)
        {
            var next = new Dictionary<int, int>();                                  // token → the first child drafting it
            foreach (int c in tree.Children[node]) next.TryAdd(tokens[c], c);
            for (int t = 0; t < Vocab; t++)
            {
                if (p[node][t] <= 0) continue;
                if (next.TryGetValue(t, out int child)) Walk(child, prob * p[node][t], $"{path},{child}");
                else exact[$"{path}|{t}"] = prob * p[node][t];
            }
        }
        Walk(0, 1, "0");

        var counts = new Dictionary<string, int>();
        int drafts = 0;
        for (int round = 0; round < Rounds; round++)
        {
            using var scope = NewDisposeScope();
            var accepted = Acceptance.Sample(tree, logits, sampler, sampler.Uniforms(tree.Count + 1, CPU));
            string key = $"{string.Join(",", accepted.Nodes)}|{accepted.Bonus}";
            counts[key] = counts.GetValueOrDefault(key) + 1;
            drafts += accepted.Nodes.Length - 1;
        }
        var (stat, df, pValue) = ChiSquare.Test(counts, exact, Rounds);
        Assert.True(pValue > 0.001, $"chi-square {stat:F1} on {df} df, p = {pValue:E2}");
        Assert.True(drafts > Rounds / 2, $"only {drafts} drafts accepted in {Rounds} rounds");
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void Drafts_drawn_from_q_give_the_distribution_of_the_rule(string setting)
    {
        // A static shape: root 0 → slots 1, 2, 3; 1 → 4, 5; 2 → 6; 4 → 7. Each round draws every node's children
        // without replacement from that node's q, as the EAGLE-1 static tree does while sampling.
        int[] parents = [-1, 0, 0, 0, 1, 1, 2, 4];
        int n = parents.Length;
        var children = Enumerable.Range(0, n).Select(v => Enumerable.Range(0, n).Where(c => parents[c] == v).ToArray()).ToArray();
        using var logits = Logits(n, 8, [(0, 1), (0, 3), (1, 2), (4, 5)]);
        var sampler = new Sampler(Sampling(setting, 12));
        var p = Processed(sampler, logits);
        var qr = new Random(13);
        var q = Enumerable.Range(0, n).Select(v =>
        {
            var row = Enumerable.Range(0, Vocab).Select(t => 0.2 + qr.NextDouble() + (t == v % Vocab ? 1.5 : 0)).ToArray();
            double sum = row.Sum();
            return row.Select(x => (float)(x / sum)).ToArray();
        }).ToArray();

        // The exact law of each node: P(the child in slot i, with token x, is accepted) and P(bonus b).
        var accepts = new Dictionary<(int Node, int Slot, int Token), double>();
        var bonuses = new Dictionary<(int Node, int Token), double>();
        for (int v = 0; v < n; v++)
            NodeLaw(v, p[v], q[v].Select(x => (double)x).ToArray(), children[v].Length, accepts, bonuses);
        for (int v = 0; v < n; v++)                                                 // the rule is lossless: each node emits p
            for (int t = 0; t < Vocab; t++)
            {
                double emitted = bonuses.GetValueOrDefault((v, t)) + accepts.Where(a => a.Key.Node == v && a.Key.Token == t).Sum(a => a.Value);
                Assert.True(Math.Abs(emitted - p[v][t]) < 1e-12, $"node {v} emits token {t} with {emitted}, p = {p[v][t]}");
            }
        var exact = new Dictionary<string, double>();
        void Walk(int node, double prob, string path)
        {
            for (int t = 0; t < Vocab; t++)
                if (bonuses.GetValueOrDefault((node, t)) is > 0 and var b) exact[$"{path}|{t}"] = prob * b;
            foreach (var ((v, slot, t), a) in accepts.Where(a => a.Key.Node == node && a.Value > 0))
                Walk(children[v][slot], prob * a, $"{path},{children[v][slot]}:{t}");
        }
        Walk(0, 1, "0");

        var draw = new Random(14);
        var counts = new Dictionary<string, int>();
        int drafts = 0;
        for (int round = 0; round < Rounds; round++)
        {
            using var scope = NewDisposeScope();
            var tokens = new int[n];
            for (int v = 0; v < n; v++)
            {
                var left = q[v].Select(x => (double)x).ToArray();
                foreach (int c in children[v])
                {
                    tokens[c] = Pick(left, draw.NextDouble());
                    left[tokens[c]] = 0;
                }
            }
            var tree = new DraftTree(tokens, parents, Enumerable.Range(0, n).Select(v => children[v].Length > 0 ? q[v] : null).ToArray());
            var accepted = Acceptance.Sample(tree, logits, sampler, sampler.Uniforms(n + 1, CPU));
            string key = $"0{string.Concat(accepted.Nodes.Skip(1).Select(c => $",{c}:{tokens[c]}"))}|{accepted.Bonus}";
            counts[key] = counts.GetValueOrDefault(key) + 1;
            drafts += accepted.Nodes.Length - 1;
        }
        var (stat, df, pValue) = ChiSquare.Test(counts, exact, Rounds);
        Assert.True(pValue > 0.001, $"chi-square {stat:F1} on {df} df, p = {pValue:E2}");
        Assert.True(drafts > Rounds / 3, $"only {drafts} drafts accepted in {Rounds} rounds");
    }

    // One node's law under the rule, by enumerating its children's draws (slot i draws from q without the tokens drawn
    // before, renormalised): accept x with min(1, p(x)/q(x)); on rejection p ← norm(max(0, p − q)) and q loses x; after
    // the last child the bonus is drawn from what is left of p.
    private static void NodeLaw(int node, double[] p, double[] q, int slots,
        Dictionary<(int, int, int), double> accepts, Dictionary<(int, int), double> bonuses)
    {
        void Slot(int i, double reach, double[] pi, double[] qi)
        {
            double pSum = pi.Sum(), qSum = qi.Sum();
            if (i == slots)
            {
                for (int b = 0; b < Vocab; b++)
                    if (pi[b] > 0) bonuses[(node, b)] = bonuses.GetValueOrDefault((node, b)) + reach * pi[b] / pSum;
                return;
            }
            for (int x = 0; x < Vocab; x++)
            {
                if (qi[x] <= 0) continue;
                double drawn = qi[x] / qSum, px = pi[x] / pSum, accept = Math.Min(1, px / drawn);
                if (accept > 0) accepts[(node, i, x)] = accepts.GetValueOrDefault((node, i, x)) + reach * drawn * accept;
                if (accept >= 1) continue;
                var pNext = pi.Select((v, t) => Math.Max(0, v / pSum - qi[t] / qSum)).ToArray();
                var qNext = qi.ToArray();
                qNext[x] = 0;
                Slot(i + 1, reach * drawn * (1 - accept), pNext, qNext);
            }
        }
        Slot(0, 1, p, q);
    }

    private static int Pick(double[] weights, double u)
    {
        double target = u * weights.Sum(), cumulative = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            cumulative += weights[i];
            if (weights[i] > 0 && target < cumulative) return i;
        }
        return Array.FindLastIndex(weights, w => w > 0);
    }
}
