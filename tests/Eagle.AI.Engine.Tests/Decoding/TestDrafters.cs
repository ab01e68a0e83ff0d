using Eagle.AI.Engine.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// Knows the target's true greedy continuation and proposes it as a chain of <c>depth</c> tokens, each replaced by a
/// wrong token with probability <c>errorRate</c>, with a wrong sibling beside every chain node (placed first at odd
/// depths, so the walk must look past it). With errorRate 0 every draft is accepted, which exercises multi-token
/// acceptance, KV compaction and feature re-sync far more than a random head can.
/// </summary>
internal sealed class OracleDrafter(int[] sequence, double errorRate, int depth, int vocab, int seed) : IDrafter
{
    private readonly Random random = new(seed);
    private int consumed;

    public FeatureRequest Features => FeatureRequest.None;

    public int MaxTreeTokens => 64;

    public IDraftState Begin(int capacity)
    {
        consumed = 0;
        return new NoDraftState();
    }

    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context)
    {
        consumed += nextTokens.Length;               // the root sits at sequence index `consumed`
        Assert.Equal(sequence[consumed], nextTokens[^1]); // the generator must hand over exactly the committed tokens
        var tokens = new List<int> { nextTokens[^1] };
        var parents = new List<int> { -1 };
        int parent = 0;
        for (int d = 1; d <= depth && consumed + d < sequence.Length; d++)
        {
            int truth = sequence[consumed + d];
            int wrong = (truth + 1 + random.Next(vocab - 1)) % vocab;
            int chain = random.NextDouble() < errorRate ? wrong : truth;
            int sibling = chain == truth ? wrong : (wrong + 1) % vocab == truth ? (wrong + 2) % vocab : (wrong + 1) % vocab;
            int chainIndex;
            if (d % 2 == 1)
            {
                tokens.Add(sibling); parents.Add(parent);
                tokens.Add(chain); parents.Add(parent);
                chainIndex = tokens.Count - 1;
            }
            else
            {
                tokens.Add(chain); parents.Add(parent);
                chainIndex = tokens.Count - 1;
                tokens.Add(sibling); parents.Add(parent);
            }
            parent = chainIndex;
        }
        return new DraftTree([.. tokens], [.. parents]);
    }

    public void Dispose() { }
}

/// <summary>
/// Deterministic drafts (q ≡ 1): the root gets <c>width</c> children from a seeded permutation of the vocabulary, and
/// the first child gets <c>width</c> children of its own. Width = vocabulary size is always accepted; width 1 rarely.
/// </summary>
internal sealed class ScriptedDrafter(int vocab, int width, int seed) : IDrafter
{
    private readonly Random random = new(seed);

    public FeatureRequest Features => FeatureRequest.None;

    public int MaxTreeTokens => 64;

    public IDraftState Begin(int capacity) => new NoDraftState();

    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context)
    {
        var tokens = new List<int> { nextTokens[^1] };
        var parents = new List<int> { -1 };
        foreach (int t in Permutation().Take(width)) { tokens.Add(t); parents.Add(0); }
        foreach (int t in Permutation().Take(width)) { tokens.Add(t); parents.Add(1); }
        return new DraftTree([.. tokens], [.. parents]);
    }

    private int[] Permutation() => Enumerable.Range(0, vocab).OrderBy(_ => random.Next()).ToArray();

    public void Dispose() { }
}

/// <summary>
/// EAGLE-1-style sampled drafts: children drawn without replacement from a fixed draft distribution q, recorded in the
/// tree so the draft-probability acceptance rule applies. A q close to uniform with many children is accepted often;
/// a peaked q with one child rarely.
/// </summary>
internal sealed class SampledStaticDrafter(float[] q, int children, int seed) : IDrafter
{
    private readonly Random random = new(seed);

    public FeatureRequest Features => FeatureRequest.None;

    public int MaxTreeTokens => 64;

    public IDraftState Begin(int capacity) => new NoDraftState();

    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context)
    {
        var tokens = new List<int> { nextTokens[^1] };
        var parents = new List<int> { -1 };
        var dists = new List<float[]?> { q };
        foreach (int t in DrawWithoutReplacement(children)) { tokens.Add(t); parents.Add(0); dists.Add(null); }
        dists[1] = q;                                           // the first child has children of its own
        foreach (int t in DrawWithoutReplacement(children)) { tokens.Add(t); parents.Add(1); dists.Add(null); }
        return new DraftTree([.. tokens], [.. parents], [.. dists]);
    }

    private List<int> DrawWithoutReplacement(int count)
    {
        var left = (float[])q.Clone();
        var picked = new List<int>();
        for (int i = 0; i < count; i++)
        {
            double total = left.Sum(v => (double)v), u = random.NextDouble() * total, acc = 0;
            int pick = Array.FindLastIndex(left, v => v > 0);
            for (int v = 0; v < left.Length; v++)
            {
                acc += left[v];
                if (left[v] > 0 && u < acc) { pick = v; break; }
            }
            picked.Add(pick);
            left[pick] = 0;
        }
        return picked;
    }

    public void Dispose() { }
}

/// <summary>An <see cref="EagleDrafter"/> that keeps every drafted tree's tokens (the head's view of the pairs it was given).</summary>
internal sealed class TreeRecorder(EagleDrafter inner) : IDrafter
{
    public List<int[]> Trees { get; } = [];
    public FeatureRequest Features => inner.Features;
    public int MaxTreeTokens => inner.MaxTreeTokens;
    public TreeSettings Tree => inner.Tree;
    public IDraftState Begin(int capacity) => inner.Begin(capacity);
    public IDraftState? BeginFrom(int capacity, IDraftState source, int length) => inner.BeginFrom(capacity, source, length);

    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context)
    {
        var tree = inner.Draft(state, features, nextTokens, context);
        Trees.Add(tree.Tokens);
        return tree;
    }

    public void Dispose() { }
}


/// <summary>An <see cref="EagleDrafter"/> that records how many requests each batched draft call carried.</summary>
internal sealed class BatchRecorder(EagleDrafter inner) : IDrafter
{
    public List<int> Calls { get; } = [];
    public FeatureRequest Features => inner.Features;
    public int MaxTreeTokens => inner.MaxTreeTokens;
    public TreeSettings Tree => inner.Tree;
    public IDraftState Begin(int capacity) => inner.Begin(capacity);

    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context) =>
        Draft([new DraftCall(state, features, nextTokens, context)])[0];

    public IReadOnlyList<DraftTree> Draft(IReadOnlyList<DraftCall> calls)
    {
        Calls.Add(calls.Count);
        return inner.Draft(calls);
    }

    public void Dispose() { }
}
