using System.Collections;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// The EAGLE-1 static draft tree: a fixed shape given as top-k rank paths (<see cref="TreeSettings.StaticChoices"/>).
/// Nodes are ordered by (depth, path), so parents precede children. Drafting walks it level by level: the children of
/// every node are its top-k draft tokens (greedy) or k tokens drawn without replacement from the draft distribution
/// (sampling), and only nodes that have children are fed through the head.
/// </summary>
internal sealed class StaticTree : IDisposable
{
    /// <summary>Lays out <paramref name="choices"/> (validated, prefix-closed); paths using a rank ≥ <paramref name="k"/> are dropped, so a tiny draft vocabulary still works.</summary>
    public StaticTree(IReadOnlyList<int[]> choices, int k)
    {
        var kept = choices.Where(c => c.All(r => r < k)).ToList();
        kept.Sort((a, b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : ((IStructuralComparable)a).CompareTo(b, Comparer<int>.Default));
        int n = kept.Count + 1;
        Parents = new int[n];
        Ranks = new int[n];
        Depths = new int[n];
        Parents[0] = -1;
        var index = new Dictionary<string, int>(StringComparer.Ordinal) { [""] = 0 };
        var children = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        for (int i = 1; i < n; i++)
        {
            var path = kept[i - 1];
            Parents[i] = index[Key(path[..^1])];
            Ranks[i] = path[^1];
            Depths[i] = path.Length;
            index[Key(path)] = i;
            children[Parents[i]].Add(i);
        }
        Children = children.Select(c => c.ToArray()).ToArray();
        MaxDepth = Depths.Max();
        FedCount = Enumerable.Range(1, n - 1).Count(i => Children[i].Length > 0);
    }

    private static string Key(int[] path) => string.Join(",", path);

    /// <summary>Nodes including the root.</summary>
    public int Count => Parents.Length;
    /// <summary>Parent node of each node (−1 for the root).</summary>
    public int[] Parents { get; }
    /// <summary>Which of its parent's ranked children each node is.</summary>
    public int[] Ranks { get; }
    /// <summary>Depth of each node (root 0).</summary>
    public int[] Depths { get; }
    /// <summary>Children of each node, in node order.</summary>
    public int[][] Children { get; }
    /// <summary>The deepest node's depth.</summary>
    public int MaxDepth { get; }
    /// <summary>Non-root nodes with children: those fed through the head, i.e. the draft cache room a round needs.</summary>
    public int FedCount { get; }

    /// <summary>Nodes at <paramref name="depth"/> that have children (the nodes fed at that level).</summary>
    public int[] InnerNodesAt(int depth) =>
        Enumerable.Range(0, Count).Where(i => Depths[i] == depth && Children[i].Length > 0).ToArray();

    /// <summary>
    /// Starts filling the tree below <paramref name="root"/> (see <see cref="TreeExpansion.Grow"/>). The inner nodes of
    /// depth d are fed at draft position committed + d − 1, each attending to the committed prefix and its own
    /// ancestors. Children are the ranked top-k (greedy) or k draws without replacement from the draft distribution
    /// (sampling, with a torch generator seeded from the request's random source); everything stays on the device, and
    /// the tree's shape tensors are made once per device and shared by every round.
    /// </summary>
    /// <param name="head">The draft head.</param>
    /// <param name="committed">Draft positions the cache holds before the first level is fed.</param>
    /// <param name="root">The root token.</param>
    /// <param name="context">Whether to sample, and the request's random source.</param>
    public TreeExpansion Begin(EagleHead head, int committed, int root, DraftContext context) =>
        new Expansion(this, ShapeOn(head.Device), head, committed, root, context);

    // One round's walk down the fixed shape: each level picks the children of the rows fed last, then feeds its inner
    // children.
    private sealed class Expansion : TreeExpansion
    {
        private readonly StaticTree tree;
        private readonly DeviceShape shape;
        private readonly EagleHead head;
        private readonly int committed;
        private readonly Tensor tokens;
        private readonly Tensor? distributions, toTarget;
        private readonly Generator? generator;
        private readonly DraftGuide? guide;
        private readonly Constraints.JsonFrame?[]? states;                         // guided: each fed node's grammar state
        private int level;

        public Expansion(StaticTree tree, DeviceShape shape, EagleHead head, int committed, int root, DraftContext context)
        {
            this.tree = tree;
            this.shape = shape;
            this.head = head;
            this.committed = committed;
            var device = head.Device;
            guide = context.Guide;
            if (guide is not null)
            {
                states = new Constraints.JsonFrame?[tree.Count];
                states[0] = guide.Root;
            }
            using var rootToken = ((long)root).ToScalar();
            tokens = full(tree.Count, rootToken, ScalarType.Int64, device);
            if (context.Sampling)
            {
                distributions = zeros([tree.Count, head.Config.VocabSize], ScalarType.Float32, device);
                toTarget = head.ToTarget(HeldScalars.Range(head.DraftVocabSize, device));   // draft id → target id
                generator = new Generator(unchecked((ulong)context.Random.NextInt64()), device);
            }
        }

        public override LevelFeed? Next(Tensor outputs, Tensor logProbs)
        {
            if (level == shape.Levels.Count) return null;
            var l = shape.Levels[level++];
            var device = head.Device;
            if (guide is not null) logProbs = guide.Restrict(logProbs, [.. l.RowNodes.Select(n => states![n])], head);
            Tensor picks;                                                           // draft ids [rows, width]
            if (generator is null) picks = logProbs.topk(l.Width).indexes;
            else
            {
                var q = logProbs.exp().clamp_min(TinyProbability);                  // every draft token stays drawable
                picks = q.multinomial(l.Width, replacement: false, generator: generator);
                var qTarget = zeros([q.shape[0], head.Config.VocabSize], ScalarType.Float32, device).index_copy_(1, toTarget!, q);
                distributions!.index_copy_(0, l.Parents, qTarget);                // q over the target vocabulary
            }
            tokens.index_copy_(0, l.Children, head.ToTarget(picks.reshape(-1).index_select(0, l.Picks)));
            if (l.FedCount == 0) return null;

            int f = l.FedCount;
            var fedTokens = tokens.index_select(0, l.Fed);
            if (guide is not null)
            {
                var fedStates = guide.Children(states!, fedTokens, [.. l.FedNodes.Select(n => tree.Parents[n])]);
                for (int r = 0; r < f; r++) states![l.FedNodes[r]] = fedStates[r];
            }
            var mask = cat([ones([f, committed], ScalarType.Bool, device), l.FedMask], 1); // [f, cache.Length + f]
            return new LevelFeed(
                outputs.index_select(0, l.FedParentRows),                          // children continue from their parent's output
                fedTokens,
                HeldScalars.Full([f], committed + l.Depth - 1, ScalarType.Int64, device),
                mask);
        }

        public override DraftTree Finish()
        {
            var t = new DeviceTree(tokens, shape.Parents, shape.Depths, shape.Mask, distributions);
            return DraftTree.FromDevice(t, tree.MaxDepth, tree.Children.Max(c => c.Length));
        }

        public override void Dispose()
        {
            generator?.Dispose();
            base.Dispose();
        }
    }

    private static readonly Scalar TinyProbability = 1e-30f.ToScalar();           // static: never finalized mid-call

    // The tree's fixed layout as device tensors, made on first use on a device and kept (outside any dispose scope).
    private DeviceShape ShapeOn(Device device)
    {
        if (deviceShape is not null && TorchRuntime.SameDevice(deviceShape.Parents.device, device)) return deviceShape;
        deviceShape?.Dispose();
        deviceShape = null;
        using var scope = NewDisposeScope();
        Tensor Longs(IEnumerable<int> values) => tensor(values.Select(v => (long)v).ToArray(), ScalarType.Int64, device);
        var mask = new bool[Count * Count];
        for (int i = 0; i < Count; i++)
            for (int a = i; a >= 0; a = Parents[a]) mask[i * Count + a] = true;

        var levels = new List<DeviceLevel>();
        int[] rows = [0];                                                           // nodes whose children are chosen next
        int fedBefore = 0;
        var slot = new int[Count];                                                  // index among all fed nodes
        for (int depth = 1; depth <= MaxDepth; depth++)
        {
            int[] children = Enumerable.Range(0, Count).Where(i => Depths[i] == depth).ToArray();
            int width = children.Max(c => Ranks[c]) + 1;
            int[] picks = children.Select(c => Array.IndexOf(rows, Parents[c]) * width + Ranks[c]).ToArray();
            int[] fed = InnerNodesAt(depth);
            int f = fed.Length, seen = fedBefore + f;
            var fedMask = new bool[f * seen];                                       // [f, fed so far]: ancestors (root excluded) and self
            for (int r = 0; r < f; r++)
            {
                slot[fed[r]] = fedBefore + r;
                for (int a = fed[r]; a != 0; a = Parents[a]) fedMask[r * seen + slot[a]] = true;
            }
            levels.Add(new DeviceLevel(depth, width, Longs(rows), Longs(children), Longs(picks), f, Longs(fed),
                Longs(fed.Select(n => Array.IndexOf(rows, Parents[n]))), tensor(fedMask, device: device).view(f, seen), rows, fed));
            if (f == 0) break;
            rows = fed;
            fedBefore = seen;
        }
        deviceShape = new DeviceShape(Longs(Parents), Longs(Depths), tensor(mask, device: device).view(Count, Count), levels);
        scope.Detach(scope.DisposablesView.ToList());
        return deviceShape;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        deviceShape?.Dispose();
        deviceShape = null;
    }

    private DeviceShape? deviceShape;

    private sealed record DeviceShape(Tensor Parents, Tensor Depths, Tensor Mask, List<DeviceLevel> Levels) : IDisposable
    {
        public void Dispose()
        {
            foreach (var t in new[] { Parents, Depths, Mask }.Concat(Levels.SelectMany(l => l.Tensors))) t.Dispose();
        }
    }

    // One level of the walk: the rows (parents) whose children are chosen, the children and which pick each takes
    // (row · width + rank), and the inner children fed through the head with their parent's row and tree mask; the
    // rows and fed nodes also as host node indices, for a guided expansion's grammar states.
    private sealed record DeviceLevel(int Depth, int Width, Tensor Parents, Tensor Children, Tensor Picks, int FedCount,
        Tensor Fed, Tensor FedParentRows, Tensor FedMask, int[] RowNodes, int[] FedNodes)
    {
        public IEnumerable<Tensor> Tensors => [Parents, Children, Picks, Fed, FedParentRows, FedMask];
    }
}
