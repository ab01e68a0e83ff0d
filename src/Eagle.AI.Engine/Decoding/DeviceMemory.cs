using System.Runtime.InteropServices;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// The device allocations a request makes (its KV caches, its tree buffers, the activations of each draft round and
/// forward) announce themselves here first. That gives tests one seam to watch them (no per-round allocation of request
/// buffers) and to make one fail the way CUDA does (<see cref="IsOutOfMemory"/>), so the out-of-memory path is exercised
/// on CPU. Per thread; costs nothing unless a hook is installed.
/// </summary>
internal static class DeviceMemory
{
    /// <summary>A request's target KV cache.</summary>
    public const string KVCache = "kv-cache";
    /// <summary>A drafter's KV cache.</summary>
    public const string DraftCache = "draft-cache";
    /// <summary>A request's tree verification buffers.</summary>
    public const string TreeBuffers = "tree-buffers";
    /// <summary>A draft round's activations (the head's forwards and the tree).</summary>
    public const string Draft = "draft";
    /// <summary>A target forward's activations.</summary>
    public const string Forward = "forward";

    [ThreadStatic] private static Action<string>? hook;

    /// <summary>Called before allocating <paramref name="what"/> (one of the constants above).</summary>
    public static void Allocating(string what) => hook?.Invoke(what);

    /// <summary>Runs <paramref name="onAllocation"/> before each allocation on this thread until disposed; it may throw.</summary>
    public static IDisposable Hook(Action<string> onAllocation)
    {
        hook = onAllocation;
        return new Unhook();
    }

    /// <summary>The exception TorchSharp raises when the CUDA caching allocator cannot allocate (for injecting it).</summary>
    public static Exception SimulatedOutOfMemory(string what) =>
        new ExternalException($"CUDA out of memory. Tried to allocate the {what} (simulated)");

    /// <summary>
    /// Whether <paramref name="e"/> is a libtorch allocation failure: CUDA's caching allocator reports "CUDA out of
    /// memory", the CPU allocator "can't allocate memory".
    /// </summary>
    public static bool IsOutOfMemory(Exception e) =>
        e is ExternalException && (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
                                   || e.Message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase));

    private sealed class Unhook : IDisposable
    {
        public void Dispose() => hook = null;
    }
}
