using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// One request's key/value cache, preallocated once at its full capacity (no growth, no <c>cat</c> per step).
/// A forward writes its n new entries at [Length, Length + n) and advances <see cref="Length"/>; tree verification then
/// keeps only the accepted entries with <see cref="Compact"/>, and rejected entries need no rollback because the next
/// forward overwrites them.
/// </summary>
internal sealed class KVCache : IDisposable
{
    private readonly Tensor[] keys;   // per layer [1, kvHeads, Capacity, D]
    private readonly Tensor[] values; // per layer [1, kvHeads, Capacity, D]

    /// <summary>Allocates <paramref name="capacity"/> positions for every layer.</summary>
    public KVCache(int layers, int kvHeads, int headDim, int capacity, ScalarType dtype, Device device)
        : this(kvHeads, headDim, capacity, dtype, Enumerable.Repeat(device, layers).ToArray())
    {
    }

    /// <summary>Allocates <paramref name="capacity"/> positions for every layer, each on its layer's device (split models).</summary>
    public KVCache(int kvHeads, int headDim, int capacity, ScalarType dtype, IReadOnlyList<Device> layerDevices)
    {
        ArgumentNullException.ThrowIfNull(layerDevices);
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "KV capacity must be > 0");
        Capacity = capacity;
        keys = new Tensor[layerDevices.Count];
        values = new Tensor[layerDevices.Count];
        for (int i = 0; i < layerDevices.Count; i++)
        {
            keys[i] = zeros([1, kvHeads, capacity, headDim], dtype, layerDevices[i]);
            values[i] = zeros([1, kvHeads, capacity, headDim], dtype, layerDevices[i]);
        }
    }

    /// <summary>The device of each layer's entries.</summary>
    public IEnumerable<Device> LayerDevices => keys.Select(k => k.device);

    /// <summary>Tensors the cache holds (keys and values of every layer).</summary>
    internal int TensorCount => keys.Length + values.Length;

    /// <summary>Positions this cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Committed entries: positions [0, Length) are valid.</summary>
    public int Length { get; private set; }

    /// <summary>Bytes a cache of these dimensions holds (keys and values of every layer).</summary>
    public static long BytesFor(int layers, int kvHeads, int headDim, int capacity, ScalarType dtype) =>
        2L * layers * kvHeads * headDim * capacity * dtype.ElementSize();

    /// <summary>Bytes held by the cache.</summary>
    public long Bytes => keys.Sum(k => k.NumberOfElements * k.ElementSize) * 2;

    /// <summary>
    /// Writes k, v [1, kvHeads, n, D] of <paramref name="layer"/> at [Length, Length + n) and returns views of the whole
    /// valid prefix [1, kvHeads, Length + n, D]. <see cref="Advance"/> commits the n entries once every layer is written.
    /// </summary>
    public (Tensor K, Tensor V) Write(int layer, Tensor k, Tensor v)
    {
        long n = k.shape[2];
        keys[layer].narrow(2, Length, n).copy_(k);
        values[layer].narrow(2, Length, n).copy_(v);
        return (keys[layer].narrow(2, 0, Length + n), values[layer].narrow(2, 0, Length + n));
    }

    /// <summary>Layer <paramref name="layer"/>'s whole key and value storage, [1, kvHeads, Capacity, D] each.</summary>
    internal (Tensor K, Tensor V) Storage(int layer) => (keys[layer], values[layer]);

    /// <summary>Throws unless <paramref name="n"/> more entries fit.</summary>
    public void EnsureRoom(int n)
    {
        if (Length + n > Capacity)
            throw new InvalidOperationException(
                $"KV cache full: {Length} + {n} positions exceed its capacity of {Capacity} (raise the context limit)");
    }

    /// <summary>Commits the n entries written by the last forward.</summary>
    public void Advance(int n) => Length += n;

    /// <summary>
    /// Keeps the entries at absolute <paramref name="slots"/> (int64 [a], ascending, all ≥ <paramref name="start"/>) by
    /// gathering them to [start, start + a) and sets Length = start + a. This is how a verified tree's root and accepted
    /// path become the committed prefix.
    /// </summary>
    public void Compact(int start, Tensor slots)
    {
        int a = (int)slots.shape[0];
        for (int i = 0; i < keys.Length; i++)
        {
            using var local = TorchRuntime.SameDevice(slots.device, keys[i].device) ? slots.alias() : slots.to(keys[i].device); // split models
            using var k = keys[i].index_select(2, local); // gather first: source and target ranges may overlap
            using var v = values[i].index_select(2, local);
            keys[i].narrow(2, start, a).copy_(k);
            values[i].narrow(2, start, a).copy_(v);
        }
        Length = start + a;
    }

    /// <summary>
    /// A new cache of <paramref name="capacity"/> positions (at least <see cref="Length"/>) holding copies of this one's
    /// valid entries, tracked by autograd. Training unrolls extend such a copy step by step instead of writing on into
    /// one buffer: a later in-place write would change K/V that an earlier step's attention saved for backward.
    /// </summary>
    internal KVCache CopyWithCapacity(int capacity)
    {
        if (capacity < Length) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"must be at least the {Length} valid entries");
        var copy = new KVCache((int)keys[0].shape[1], (int)keys[0].shape[3], capacity, keys[0].dtype, LayerDevices.ToArray());
        for (int i = 0; i < keys.Length; i++)
        {
            using var k = keys[i].narrow(2, 0, Length);
            using var v = values[i].narrow(2, 0, Length);
            using var kTo = copy.keys[i].narrow(2, 0, Length);
            using var vTo = copy.values[i].narrow(2, 0, Length);
            kTo.copy_(k);
            vTo.copy_(v);
        }
        copy.Length = Length;
        return copy;
    }

    /// <summary>
    /// A copy holding exactly the valid entries (capacity = <see cref="Length"/>), made device to device and held outside
    /// any dispose scope; this cache is unchanged. How a finished request's cache is kept for reuse without the room it
    /// had reserved for tokens it never generated.
    /// </summary>
    public KVCache Trimmed()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var copy = CopyWithCapacity(Length);
        scope.Detach(scope.DisposablesView.ToList());
        return copy;
    }

    /// <summary>
    /// Makes this cache hold the first <paramref name="length"/> entries of <paramref name="source"/> (a cache of the same
    /// model), copied device to device; <see cref="Length"/> becomes <paramref name="length"/>. How a new request starts
    /// from a finished one's prefix.
    /// </summary>
    /// <exception cref="ArgumentException">The caches have different layouts, or <paramref name="length"/> is out of range.</exception>
    public void CopyPrefixFrom(KVCache source, int length)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.keys.Length != keys.Length || source.keys[0].shape[1] != keys[0].shape[1] || source.keys[0].shape[3] != keys[0].shape[3])
            throw new ArgumentException("the source cache has another layout", nameof(source));
        if (length < 0 || length > source.Length || length > Capacity)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"must be in [0, min({source.Length}, {Capacity})]");
        for (int i = 0; i < keys.Length; i++)
        {
            using var k = source.keys[i].narrow(2, 0, length);
            using var v = source.values[i].narrow(2, 0, length);
            using var kTo = keys[i].narrow(2, 0, length);
            using var vTo = values[i].narrow(2, 0, length);
            kTo.copy_(k);
            vTo.copy_(v);
        }
        Length = length;
    }

    /// <summary>Forgets everything from <paramref name="length"/> on.</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"must be in [0, {Length}]");
        Length = length;
    }

    /// <summary>Empties the cache for a new request (a slot of <see cref="KVCachePool"/>).</summary>
    internal void Reset() => Length = 0;

    // The pool this cache is a rented slot of (null: a cache of its own); `home` is cleared when it goes back, so a
    // second Dispose cannot put it in the pool twice.
    private KVCachePool? home;

    internal KVCache RentedFrom(KVCachePool pool)
    {
        home = pool;
        return this;
    }

    /// <summary>Detaches the tensors from any dispose scope (a pooled slot outlives the request that made it).</summary>
    internal void DetachFromDisposeScope()
    {
        foreach (var t in keys.Concat(values)) t.DetachFromDisposeScope();
    }

    /// <summary>Ends this request's use: a pooled slot goes back to its pool, any other cache is freed.</summary>
    public void Dispose()
    {
        var pool = home;
        home = null;
        if (pool is not null && pool.Return(this)) return;
        Free();
    }

    /// <summary>Frees the tensors.</summary>
    internal void Free()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
    }
}
