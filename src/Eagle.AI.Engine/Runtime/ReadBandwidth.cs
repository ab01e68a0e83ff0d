using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// How fast a device streams memory it only reads, which is what a decode step does with its weights, so weight bytes ÷
/// this is the fastest a step can be. It reads buffers far larger than any last-level cache (a small buffer measures
/// the cache, and a copy measures writes too), with the decoding thread count, best of several passes.
/// </summary>
internal static unsafe class ReadBandwidth
{
    private const long Bytes = 1L << 30; // 1 GiB, in 4 buffers of 256 MiB
    private static float sink; // the sums land here, so no read can be optimised away

    /// <summary>
    /// Measures the read bandwidth of <paramref name="device"/> in bytes/s with <paramref name="threads"/> CPU threads,
    /// and says how in one line.
    /// </summary>
    public static (double BytesPerSecond, string Method) Measure(Device device, int threads)
    {
        using var scope = NewDisposeScope();
        var buffers = Enumerable.Range(0, 4).Select(_ => ones(Bytes / 4 / sizeof(float), ScalarType.Float32, device)).ToArray();
        bool managed = device.type == DeviceType.CPU && CpuLinearKernel.IsSupported;
        double best = DeviceClock.Best(device, 5, () =>
        {
            foreach (var b in buffers)
            {
                if (managed) SumOnThreads(b, threads);
                else b.sum().Dispose();
            }
        }) / 1000;                                                           // seconds
        string how = managed
            ? $"AVX-512 sum over 4 × 256 MiB on {threads} threads, best of 5"
            : "torch.sum over 4 × 256 MiB, best of 5";
        return (Bytes / best, how);
    }

    private struct Slice
    {
        public float* Data;
        public long Count;
    }

    private static void SumOnThreads(Tensor buffer, int threads)
    {
        var slice = new Slice { Data = (float*)CpuLinearKernel.Data(buffer), Count = buffer.NumberOfElements };
        CpuWorkers.Run(threads, &SumPart, &slice);
    }

    private static void SumPart(void* state, int part, int parts)
    {
        var s = (Slice*)state;
        long chunks = s->Count / 64, first = chunks * part / parts, last = chunks * (part + 1) / parts;
        Volatile.Write(ref sink, CpuLinearKernel.Sum(s->Data + first * 64, (last - first) * 64));
    }
}
