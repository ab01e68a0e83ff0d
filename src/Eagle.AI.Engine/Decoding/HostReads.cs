using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// The one way decoding copies a tensor from the device to the host. On a GPU such a read waits for all queued work, so
/// the speculative loop does exactly one per round (the accepted path, <see cref="Acceptance"/>); routing every read
/// through here lets tests count them. Counting is per thread and costs nothing until <see cref="Observe"/> is called.
/// </summary>
internal static class HostReads
{
    [ThreadStatic] private static Counter? counter;

    /// <summary>Counts this thread's reads until the returned counter is disposed.</summary>
    public static Counter Observe() => counter = new Counter();

    /// <summary>The values of an int64 tensor, in row-major order.</summary>
    public static long[] Int64(Tensor t)
    {
        counter?.Add();
        using var host = t.to(ScalarType.Int64, CPU).contiguous();
        return host.data<long>().ToArray();
    }

    /// <summary>
    /// The index of the largest value of logits [V] (the first of equal ones, as <c>argmax</c>; a NaN counts as the
    /// largest), as one read; an fp32 row in CPU memory is searched where it lies (<see cref="CpuArgMax"/>).
    /// </summary>
    public static int ArgMax(Tensor logits)
    {
        if (CpuArgMax.Row(logits) is { } best)
        {
            counter?.Add();
            return best;
        }
        using var onDevice = logits.argmax();
        return (int)Int64(onDevice)[0];
    }

    /// <summary>The values of a floating tensor as fp32, in row-major order.</summary>
    public static float[] Float32(Tensor t)
    {
        counter?.Add();
        using var host = t.to(ScalarType.Float32, CPU).contiguous();
        return host.data<float>().ToArray();
    }

    /// <summary>Device→host reads made on this thread while it was open.</summary>
    internal sealed class Counter : IDisposable
    {
        /// <summary>Reads so far.</summary>
        public int Count { get; private set; }

        internal void Add() => Count++;

        /// <inheritdoc/>
        public void Dispose()
        {
            if (counter == this) counter = null;
        }
    }
}
