namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// A request did not fit in the device's memory. Everything the request allocated has been freed, and the generator (and
/// the engine around it) serves the next request as usual; a smaller token budget (shorter prompt, fewer new tokens or a
/// lower context limit) may fit.
/// </summary>
public sealed class DeviceOutOfMemoryException : Exception
{
    /// <summary>Creates the exception for a request of <paramref name="tokenBudget"/> positions needing about <paramref name="bytesNeeded"/> bytes.</summary>
    public DeviceOutOfMemoryException(int tokenBudget, long bytesNeeded, string device, string allocation, Exception innerException)
        : base($"The request does not fit in {device} memory: allocating its {allocation} failed. Its token budget is {tokenBudget} " +
               $"positions (prompt + max new tokens + draft tree), whose KV cache and tree buffers need {bytesNeeded:N0} bytes " +
               $"({bytesNeeded / (1024.0 * 1024.0):F1} MiB) on top of the weights and the forward's activations. Lower the prompt " +
               $"length, MaxNewTokens or the context limit, or free device memory. ({innerException.Message})", innerException)
    {
        TokenBudget = tokenBudget;
        BytesNeeded = bytesNeeded;
        Device = device;
        Allocation = allocation;
    }

    /// <summary>Positions the request reserved: prompt + max new tokens + the draft tree's room, capped by the context limit.</summary>
    public int TokenBudget { get; }

    /// <summary>Bytes of the request's KV caches and tree buffers (the per-request memory, weights excluded).</summary>
    public long BytesNeeded { get; }

    /// <summary>The device, e.g. <c>cuda:0</c>.</summary>
    public string Device { get; }

    /// <summary>What was being allocated when it failed (<c>kv-cache</c>, <c>tree-buffers</c>, <c>draft-cache</c>, <c>draft</c>, <c>forward</c>).</summary>
    public string Allocation { get; }
}
