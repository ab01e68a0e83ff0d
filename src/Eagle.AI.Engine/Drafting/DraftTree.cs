using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// A tree of draft tokens to verify in one target forward. Node 0 is the root (the token the target chose last, not yet
/// committed); every other node's parent comes before it, so the node order is a topological order and a node's
/// ancestors are all at lower indices.
/// </summary>
/// <remarks>
/// The tree lives where it was made. Drafters that run on the device build it there (<see cref="OnDevice"/>: tokens,
/// parents, depths, the ancestor mask and optional draft distributions), and the speculative loop verifies and accepts
/// it without reading it back. The host view (<see cref="Tokens"/>, <see cref="Parents"/>, ...) is for tests and tools:
/// on a device-built tree its first use reads the tree back (one counted <see cref="HostReads"/> read). A tree built from
/// host arrays has both views; its device tensors are made on first use and belong to the caller's dispose scope.
/// </remarks>
internal sealed class DraftTree
{
    private static readonly Scalar Zero = 0L.ToScalar();                         // static: never finalized mid-call
    private static readonly Scalar MinusOne = (-1L).ToScalar();

    private int[]? tokens, parents;
    private float[]?[]? parentDistributions;
    private bool distributionsRead;
    private HostShape? shape;
    private DeviceTree? onDevice;

    /// <summary>Builds and checks a tree from host tokens and parent indices (<c>parents[0] == -1</c>).</summary>
    /// <param name="tokens">target-vocabulary ids, [M+1], tokens[0] = root.</param>
    /// <param name="parents">parent index of each node, [M+1]; -1 for the root only; parents[i] &lt; i.</param>
    /// <param name="parentDistributions">optional: for each node with children, the draft distribution (over the
    /// target vocabulary) its children were drawn from — needed by the EAGLE-1 draft-probability acceptance rule. Every
    /// node with children must have one; leaves have none.</param>
    /// <exception cref="ArgumentException">The arrays do not describe such a tree.</exception>
    public DraftTree(int[] tokens, int[] parents, float[]?[]? parentDistributions = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(parents);
        if (tokens.Length == 0 || tokens.Length != parents.Length)
            throw new ArgumentException($"tokens ({tokens.Length}) and parents ({parents.Length}) must have the same non-zero length");
        if (parents[0] != -1) throw new ArgumentException("node 0 must be the root (parent -1)", nameof(parents));
        for (int i = 1; i < parents.Length; i++)
            if (parents[i] < 0 || parents[i] >= i)
                throw new ArgumentException($"node {i}: parent {parents[i]} must be an earlier node", nameof(parents));
        this.tokens = tokens;
        this.parents = parents;
        shape = new HostShape(parents);
        if (parentDistributions is not null && parentDistributions.All(d => d is null))
            parentDistributions = null;                                             // nothing was drawn (a root-only tree)
        if (parentDistributions is not null)
        {
            if (parentDistributions.Length != tokens.Length)
                throw new ArgumentException("parentDistributions must have one entry per node", nameof(parentDistributions));
            for (int i = 0; i < tokens.Length; i++)
                if (shape.Children[i].Length > 0 && parentDistributions[i] is null)
                    throw new ArgumentException($"node {i} has children but no draft distribution", nameof(parentDistributions));
            int v = parentDistributions.First(d => d is not null)!.Length;
            if (parentDistributions.Any(d => d is not null && d.Length != v))
                throw new ArgumentException("all draft distributions must have the same length", nameof(parentDistributions));
        }
        this.parentDistributions = parentDistributions;
        distributionsRead = true;
        Count = tokens.Length;
        DepthBound = shape.Depths.Max();
        ChildBound = shape.Children.Max(c => c.Length);
        HasDistributions = parentDistributions is not null;
    }

    // A tree made on the device.
    private DraftTree(DeviceTree t, int depthBound, int childBound)
    {
        onDevice = t;
        Count = (int)t.Tokens.shape[0];
        DepthBound = depthBound;
        ChildBound = childBound;
        HasDistributions = t.Distributions is not null;
    }

    /// <summary>
    /// A tree from device tensors: <paramref name="tokens"/> int64 [n], <paramref name="parents"/> int64 [n] (root −1,
    /// parents precede children), optional <paramref name="distributions"/> fp32 [n, V] (rows of nodes without children
    /// unused). Depths and the ancestor mask are derived on the device; <paramref name="depthBound"/> bounds the depth
    /// of any node and <paramref name="childBound"/> the children of any node (the host cannot see them).
    /// </summary>
    internal static DraftTree FromDevice(Tensor tokens, Tensor parents, int depthBound, int childBound, Tensor? distributions = null)
    {
        var (depths, mask) = Ancestry(parents, depthBound);
        return new DraftTree(new DeviceTree(tokens, parents, depths, mask, distributions), depthBound, childBound);
    }

    /// <summary>A tree from device tensors whose depths and ancestor mask are already known (static shapes).</summary>
    internal static DraftTree FromDevice(DeviceTree tree, int depthBound, int childBound) => new(tree, depthBound, childBound);

    /// <summary>
    /// Depths int64 [n] and the ancestor-or-self mask bool [n, n] from parent indices, on their device: a node's row is
    /// its parent's row plus itself, repeated once per level.
    /// </summary>
    internal static (Tensor Depths, Tensor Mask) Ancestry(Tensor parents, int depthBound)
    {
        using var scope = NewDisposeScope();
        int n = (int)parents.shape[0];
        var self = eye(n, dtype: ScalarType.Bool, device: parents.device);
        var up = parents.clamp_min(Zero);                                             // the root is its own parent here
        var mask = self;
        for (int d = 0; d < depthBound; d++) mask = mask.index_select(0, up).logical_or_(self);
        // Held scalars: `- 1` would pass two implicit Scalars the GC can finalize mid-call, which can corrupt the depths
        // (the verify positions) without any error.
        var depths = mask.sum(1, type: ScalarType.Int64).add(MinusOne, Runtime.HeldScalars.One);
        return (depths.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    /// <summary>Nodes, root included.</summary>
    public int Count { get; }

    /// <summary>No node is deeper than this (the exact maximum for host trees, a bound for device trees).</summary>
    public int DepthBound { get; }

    /// <summary>No node has more children than this.</summary>
    public int ChildBound { get; }

    /// <summary>Whether children were drawn from recorded draft distributions (the EAGLE-1 sampling rule applies).</summary>
    public bool HasDistributions { get; }

    /// <summary>Target ids, [M+1], root first.</summary>
    public int[] Tokens { get { ReadBack(); return tokens!; } }
    /// <summary>Parent of each node; -1 for the root.</summary>
    public int[] Parents { get { ReadBack(); return parents!; } }
    /// <summary>Depth of each node (root 0); the target verifies node i at position committed + Depths[i].</summary>
    public int[] Depths => Shape.Depths;
    /// <summary>Children of each node, in node order (the draft's preference order).</summary>
    public int[][] Children => Shape.Children;
    /// <summary>Root-to-leaf node paths (the reference's retrieve indices), in leaf order.</summary>
    public int[][] Paths => Shape.Paths;
    /// <summary>Longest root-to-leaf path in drafted tokens (root excluded).</summary>
    public int MaxDepth => Shape.Depths.Max();

    /// <summary>Per-node draft distribution of its children (EAGLE-1 sampling rule); null entries for leaves; null when none.</summary>
    public float[]?[]? ParentDistributions
    {
        get
        {
            if (distributionsRead || onDevice!.Distributions is not { } d) return parentDistributions;
            int v = (int)d.shape[1];
            var all = HostReads.Float32(d);
            parentDistributions = Enumerable.Range(0, Count)
                .Select(i => Children[i].Length == 0 ? null : all.AsSpan(i * v, v).ToArray()).ToArray();
            distributionsRead = true;
            return parentDistributions;
        }
    }

    /// <summary>The node indices from the root to <paramref name="node"/>, inclusive.</summary>
    public int[] PathTo(int node) => Shape.PathTo(node);

    /// <summary>True if <paramref name="ancestor"/> is <paramref name="node"/> or one of its ancestors.</summary>
    public bool IsAncestorOrSelf(int ancestor, int node)
    {
        for (int a = node; a >= 0; a = Parents[a])
            if (a == ancestor) return true;
        return false;
    }

    /// <summary>
    /// The tree's tensors on <paramref name="device"/>: made from the host arrays on first use (in the caller's dispose
    /// scope), or the tensors the tree was built with.
    /// </summary>
    public DeviceTree OnDevice(Device device)
    {
        if (onDevice is not null && !onDevice.Tokens.IsInvalid && TorchRuntime.SameDevice(onDevice.Tokens.device, device)) return onDevice;
        if (tokens is null || parents is null)                                     // device-built: where it was made, unless
        {                                                                           // the drafter runs on a device of its own
            var d = onDevice!;
            if (TorchRuntime.SameDevice(d.Tokens.device, device)) return d;
            onDevice = new DeviceTree(d.Tokens.to(device), d.Parents.to(device), d.Depths.to(device), d.Mask.to(device), d.Distributions?.to(device));
            return onDevice;
        }
        var t = tensor(tokens.Select(x => (long)x).ToArray(), device: device);
        var p = tensor(parents.Select(x => (long)x).ToArray(), device: device);
        var depths = tensor(Depths.Select(x => (long)x).ToArray(), device: device);
        var mask = new bool[Count * Count];
        for (int i = 0; i < Count; i++)
            for (int a = i; a >= 0; a = parents[a]) mask[i * Count + a] = true;
        Tensor? q = null;
        if (parentDistributions is not null)
        {
            int v = parentDistributions.First(d => d is not null)!.Length;
            var flat = new float[Count * v];
            for (int i = 0; i < Count; i++) parentDistributions[i]?.CopyTo(flat, i * v);
            q = tensor(flat, device: device).view(Count, v);
        }
        onDevice = new DeviceTree(t, p, depths, tensor(mask, device: device).view(Count, Count), q);
        return onDevice;
    }

    /// <summary>
    /// The first <paramref name="n"/> nodes (parents precede children, so any prefix is a tree): how verification fits a
    /// tree into the context left. The device tensors are narrowed, not copied.
    /// </summary>
    public DraftTree Prefix(int n, Device device)
    {
        if (n >= Count) return this;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        var t = OnDevice(device);
        return FromDevice(new DeviceTree(t.Tokens.narrow(0, 0, n), t.Parents.narrow(0, 0, n), t.Depths.narrow(0, 0, n),
            t.Mask.narrow(0, 0, n).narrow(1, 0, n), t.Distributions?.narrow(0, 0, n)), DepthBound, ChildBound);
    }

    /// <summary>Moves the tree's device tensors out of the current dispose scope (a drafter returning its tree).</summary>
    internal DraftTree MoveToOuterDisposeScope()
    {
        onDevice?.MoveToOuterDisposeScope();
        return this;
    }

    /// <summary>A tree with only the root: what the verifier sees when a drafter proposes nothing.</summary>
    public static DraftTree RootOnly(int root) => new([root], [-1]);

    private HostShape Shape
    {
        get
        {
            ReadBack();
            return shape!;
        }
    }

    // The host view of a device-built tree: tokens and parents in one read.
    private void ReadBack()
    {
        if (tokens is not null) return;
        using var scope = NewDisposeScope();
        var both = HostReads.Int64(cat([onDevice!.Tokens, onDevice.Parents]));
        tokens = both[..Count].Select(x => (int)x).ToArray();
        parents = both[Count..].Select(x => (int)x).ToArray();
        shape = new HostShape(parents);
    }

    // Depths, children and paths derived from parent indices.
    private sealed class HostShape
    {
        private readonly int[] parents;

        public HostShape(int[] parents)
        {
            this.parents = parents;
            int n = parents.Length;
            Depths = new int[n];
            var children = new List<int>[n];
            for (int i = 0; i < n; i++) children[i] = [];
            for (int i = 1; i < n; i++)
            {
                Depths[i] = Depths[parents[i]] + 1;
                children[parents[i]].Add(i);
            }
            Children = children.Select(c => c.ToArray()).ToArray();
            Paths = Enumerable.Range(0, n).Where(i => Children[i].Length == 0).Select(PathTo).ToArray();
        }

        public int[] Depths { get; }
        public int[][] Children { get; }
        public int[][] Paths { get; }

        public int[] PathTo(int node)
        {
            var path = new List<int>();
            for (int a = node; a >= 0; a = parents[a]) path.Add(a);
            path.Reverse();
            return [.. path];
        }
    }
}

/// <summary>
/// A draft tree's tensors on the device: tokens and parents int64 [n] (root −1), depths int64 [n], the ancestor-or-self
/// mask bool [n, n] (row i: the nodes node i attends to within the tree) and, for the EAGLE-1 sampling rule, the draft
/// distributions fp32 [n, V] each node's children were drawn from.
/// </summary>
internal sealed record DeviceTree(Tensor Tokens, Tensor Parents, Tensor Depths, Tensor Mask, Tensor? Distributions)
{
    internal void MoveToOuterDisposeScope()
    {
        Tokens.MoveToOuterDisposeScope();
        Parents.MoveToOuterDisposeScope();
        Depths.MoveToOuterDisposeScope();
        Mask.MoveToOuterDisposeScope();
        Distributions?.MoveToOuterDisposeScope();
    }
}
