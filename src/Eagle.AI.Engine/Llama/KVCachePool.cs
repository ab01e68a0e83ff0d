using Eagle.AI.Engine.Decoding;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// The KV slots of a serving engine: a request's target cache is taken from here and goes back here when the request
/// ends, so a steady stream of requests allocates (and zeroes) nothing. A slot is a cache of the capacity one request
/// asked for; a request takes the smallest idle slot that holds its prompt and answer, else a new one is allocated.
/// At most <see cref="MaxIdle"/> slots wait idle (the engine's batch size: a full batch finds its slots ready); beyond
/// that the smallest is freed, so the idle memory stays at most the batch size × the largest request seen.
/// </summary>
/// <remarks>
/// A slot's stale entries past <see cref="KVCache.Length"/> are never read (every forward writes the positions it
/// attends to before reading them), so a slot is handed out as is, with its length reset. When a new slot does not fit
/// in device memory, the idle ones are freed and the allocation is tried once more: memory held for later requests must
/// not fail the one at hand. Used from the engine's generation thread only.
/// </remarks>
internal sealed class KVCachePool : IDisposable
{
    private readonly List<KVCache> idle = [];
    private bool disposed;

    /// <summary>A pool keeping at most <paramref name="maxIdle"/> idle slots.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxIdle"/> is negative.</exception>
    public KVCachePool(int maxIdle)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdle);
        MaxIdle = maxIdle;
    }

    /// <summary>Idle slots kept at most.</summary>
    public int MaxIdle { get; }

    /// <summary>Slots waiting for a request.</summary>
    public int IdleCount => idle.Count;

    /// <summary>Tensors the idle slots hold.</summary>
    public int IdleTensors => idle.Sum(c => c.TensorCount);

    /// <summary>Bytes the idle slots hold.</summary>
    public long IdleBytes => idle.Sum(c => c.Bytes);

    /// <summary>Requests served by an idle slot.</summary>
    public int Reused { get; private set; }

    /// <summary>Slots allocated.</summary>
    public int Allocated { get; private set; }

    /// <summary>
    /// A cache of at least <paramref name="capacity"/> positions, empty: an idle slot, or a new one from
    /// <paramref name="allocate"/>. Disposing it brings it back here.
    /// </summary>
    public KVCache Rent(int capacity, Func<int, KVCache> allocate)
    {
        ArgumentNullException.ThrowIfNull(allocate);
        ObjectDisposedException.ThrowIf(disposed, this);
        KVCache? best = null;
        foreach (var c in idle)
            if (c.Capacity >= capacity && (best is null || c.Capacity < best.Capacity)) best = c;
        if (best is not null)
        {
            idle.Remove(best);
            Reused++;
            best.Reset();
            return best.RentedFrom(this);
        }
        KVCache fresh;
        try
        {
            fresh = allocate(capacity);
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e) && idle.Count > 0)
        {
            Clear();
            fresh = allocate(capacity);
        }
        Allocated++;
        // Slots outlive the dispose scope of the request that made them.
        fresh.DetachFromDisposeScope();
        return fresh.RentedFrom(this);
    }

    /// <summary>Takes <paramref name="cache"/> back; false when the pool is closed (the caller frees it).</summary>
    internal bool Return(KVCache cache)
    {
        if (disposed) return false;
        idle.Add(cache);
        if (idle.Count > MaxIdle)
        {
            var smallest = idle.MinBy(c => c.Capacity)!;
            idle.Remove(smallest);
            smallest.Free();
        }
        return true;
    }

    /// <summary>Frees every idle slot.</summary>
    public void Clear()
    {
        foreach (var c in idle) c.Free();
        idle.Clear();
    }

    /// <summary>Frees the idle slots; slots still rented are freed when their requests end.</summary>
    public void Dispose()
    {
        disposed = true;
        Clear();
    }
}
