using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// A tree of draft tokens to verify in one target forward. Node 0 is the root (the token the target chose last, not yet
/// committed); every other node's parent comes before it, so the node order is a topological order and a node's
/// ancestors are all at lower indices. Host arrays: a tree is at most a few hundred nodes.
/// </summary>
public sealed class DraftTree
{
    /// <summary>Builds and checks a tree from tokens and parent indices (<c>parents[0] == -1</c>).</summary>
    /// <param name="tokens">target-vocabulary ids, [M+1], tokens[0] = root.</param>
    /// <param name="parents">parent index of each node, [M+1]; -1 for the root only; parents[i] &lt; i.</param>
    /// <param name="parentDistributions">optional: for each node with children, the draft distribution (over the
    /// target vocabulary) its children were drawn from — needed by the EAGLE-1 draft-probability acceptance rule.</param>
    /// <exception cref="ArgumentException">The arrays do not describe such a tree.</exception>
    public DraftTree(int[] tokens, int[] parents, float[]?[]? parentDistributions = null)
    {
        if (tokens.Length == 0 || tokens.Length != parents.Length)
            throw new ArgumentException($"tokens ({tokens.Length}) and parents ({parents.Length}) must have the same non-zero length");
        if (parents[0] != -1) throw new ArgumentException("node 0 must be the root (parent -1)", nameof(parents));
        int n = tokens.Length;
        var depths = new int[n];
        var children = new List<int>[n];
        for (int i = 0; i < n; i++) children[i] = [];
        for (int i = 1; i < n; i++)
        {
            if (parents[i] < 0 || parents[i] >= i)
                throw new ArgumentException($"node {i}: parent {parents[i]} must be an earlier node", nameof(parents));
            depths[i] = depths[parents[i]] + 1;
            children[parents[i]].Add(i);
        }
        if (parentDistributions is not null && parentDistributions.Length != n)
            throw new ArgumentException("parentDistributions must have one entry per node", nameof(parentDistributions));
        Tokens = tokens;
        Parents = parents;
        Depths = depths;
        Children = children.Select(c => c.ToArray()).ToArray();
        ParentDistributions = parentDistributions;
        Paths = Enumerable.Range(0, n).Where(i => Children[i].Length == 0).Select(PathTo).ToArray();
    }

    /// <summary>Target ids, [M+1], root first.</summary>
    public int[] Tokens { get; }
    /// <summary>Parent of each node; -1 for the root.</summary>
    public int[] Parents { get; }
    /// <summary>Depth of each node (root 0); the target verifies node i at position committed + Depths[i].</summary>
    public int[] Depths { get; }
    /// <summary>Children of each node, in node order (the draft's preference order).</summary>
    public int[][] Children { get; }
    /// <summary>Optional per-node draft distribution of its children (EAGLE-1 sampling rule); null entries for leaves.</summary>
    public float[]?[]? ParentDistributions { get; }
    /// <summary>Root-to-leaf node paths (the reference's retrieve indices), in leaf order.</summary>
    public int[][] Paths { get; }

    /// <summary>Nodes, root included.</summary>
    public int Count => Tokens.Length;

    /// <summary>Longest root-to-leaf path in drafted tokens (root excluded).</summary>
    public int MaxDepth => Depths.Max();

    /// <summary>The node indices from the root to <paramref name="node"/>, inclusive.</summary>
    public int[] PathTo(int node)
    {
        var path = new List<int>();
        for (int a = node; a >= 0; a = Parents[a]) path.Add(a);
        path.Reverse();
        return [.. path];
    }

    /// <summary>True if <paramref name="ancestor"/> is <paramref name="node"/> or one of its ancestors.</summary>
    public bool IsAncestorOrSelf(int ancestor, int node)
    {
        for (int a = node; a >= 0; a = Parents[a])
            if (a == ancestor) return true;
        return false;
    }

    /// <summary>
    /// The verification mask bool [M+1, past + M+1]: every node sees the committed prefix, its ancestors and itself.
    /// </summary>
    public Tensor AttentionMask(int past, Device device)
    {
        int n = Count;
        var m = new bool[n * (past + n)];
        for (int i = 0; i < n; i++)
        {
            Array.Fill(m, true, i * (past + n), past);
            for (int a = i; a >= 0; a = Parents[a]) m[i * (past + n) + past + a] = true;
        }
        return tensor(m, device: device).view(n, past + n);
    }

    /// <summary>Target position ids [M+1] (int64): committed length + depth.</summary>
    public Tensor Positions(int past, Device device) => tensor(Depths.Select(d => (long)(past + d)).ToArray(), device: device);

    /// <summary>The tokens as an int64 tensor [M+1].</summary>
    public Tensor TokenTensor(Device device) => tensor(Tokens.Select(t => (long)t).ToArray(), device: device);

    /// <summary>A tree with only the root: what the verifier sees when a drafter proposes nothing.</summary>
    public static DraftTree RootOnly(int root) => new([root], [-1]);
}
