using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// One request's device scratch for verifying draft trees, allocated once with its KV cache: token ids and position ids
/// [maxTreeTokens] and the attention mask [maxTreeTokens, capacity]. Each round writes its tree into them and the target
/// reads views of them, so verification allocates no mask, ids or positions per round and uploads nothing. The mask's
/// committed-prefix columns are set once as the prefix grows (they are all true for every node).
/// </summary>
internal sealed class TreeBuffers : IDisposable
{

    private readonly Tensor ids;        // int64 [T]
    private readonly Tensor positions;  // int64 [T]
    private readonly Tensor mask;       // bool [T, capacity]
    private int prefixFilled;           // mask columns [0, prefixFilled) are all true

    /// <summary>Allocates buffers for trees of up to <paramref name="maxTreeTokens"/> nodes over <paramref name="capacity"/> KV positions on <paramref name="device"/>.</summary>
    public TreeBuffers(int maxTreeTokens, int capacity, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTreeTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        MaxTreeTokens = maxTreeTokens;
        Capacity = capacity;
        using var scope = NewDisposeScope();                                       // they live as long as the request
        ids = zeros(maxTreeTokens, ScalarType.Int64, device);
        positions = zeros(maxTreeTokens, ScalarType.Int64, device);
        mask = zeros([maxTreeTokens, capacity], ScalarType.Bool, device);
        scope.Detach(ids, positions, mask);
    }

    /// <summary>Most tree nodes a round can verify.</summary>
    public int MaxTreeTokens { get; }

    /// <summary>KV positions the mask covers.</summary>
    public int Capacity { get; }

    /// <summary>Device bytes for <paramref name="maxTreeTokens"/> nodes over <paramref name="capacity"/> positions.</summary>
    public static long BytesFor(int maxTreeTokens, int capacity) => (long)maxTreeTokens * capacity + 2L * maxTreeTokens * sizeof(long);

    /// <summary>
    /// Writes <paramref name="tree"/> (n nodes) verified after <paramref name="past"/> committed positions and returns
    /// views for the target forward: ids [n], positions past + depth [n], mask [n, past + n] (every node sees the committed
    /// prefix, its ancestors and itself).
    /// </summary>
    public (Tensor Ids, Tensor Positions, Tensor Mask) Load(DeviceTree tree, int past)
    {
        int n = (int)tree.Tokens.shape[0];
        if (n > MaxTreeTokens || past + n > Capacity)
            throw new ArgumentException($"a tree of {n} nodes after {past} positions exceeds the buffers ({MaxTreeTokens} nodes, {Capacity} positions)");
        // Scalars held in locals: an implicit temporary can be finalized while the native call still reads it.
        using var visible = true.ToScalar();
        using var offset = ((long)past).ToScalar();
        if (past > prefixFilled)
        {
            mask.narrow(1, prefixFilled, past - prefixFilled).fill_(visible);
            prefixFilled = past;
        }
        var treeIds = ids.narrow(0, 0, n);
        treeIds.copy_(tree.Tokens);
        var treePositions = positions.narrow(0, 0, n);
        treePositions.copy_(tree.Depths).add_(offset, HeldScalars.One);
        var treeMask = mask.narrow(0, 0, n).narrow(1, 0, past + n);
        treeMask.narrow(1, past, n).copy_(tree.Mask);
        return (treeIds, treePositions, treeMask);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ids.Dispose();
        positions.Dispose();
        mask.Dispose();
    }
}
