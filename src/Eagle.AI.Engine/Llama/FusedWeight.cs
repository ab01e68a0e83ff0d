using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// One storage for several weight matrices that multiply the same input, so they can run as one GEMM (one kernel
/// launch instead of several: decoding is launch-bound) without a second copy of the weights. A plain class rather
/// than a <see cref="Tensor"/> field, so that <c>RegisterComponents</c> does not register it as a buffer (it would
/// show up in state_dict and be counted twice).
/// </summary>
internal sealed class FusedWeight : IDisposable
{
    /// <summary>
    /// Allocates one [Σ rows, in] tensor and re-points each of <paramref name="parts"/> (each [rows_i, in]) at its row
    /// slice of it, in order, with <c>set_</c>. Each part keeps its identity, name and shape, so state_dict, saving,
    /// parameter counts and in-place loading (<c>copy_</c> into a part) are unchanged, and every later write to a part
    /// lands in <see cref="Weight"/>. The parts' values are NOT kept: use this on freshly created, uninitialised
    /// weights (their old buffers are released).
    /// </summary>
    /// <exception cref="ArgumentException">The parts are not [rows, in] matrices of one dtype, device and width.</exception>
    public FusedWeight(params Tensor[] parts)
    {
        var first = parts[0];
        long width = first.shape[^1], rows = 0;
        foreach (var p in parts)
        {
            if (p.Dimensions != 2 || p.shape[1] != width || p.dtype != first.dtype
                || p.device_type != first.device_type || p.device_index != first.device_index)
                throw new ArgumentException("fused weights must be [rows, in] matrices of one dtype, device and width", nameof(parts));
            rows += p.shape[0];
        }
        using var guard = no_grad();
        Weight = empty([rows, width], first.dtype, first.device);
        long row = 0;
        foreach (var p in parts)
        {
            long n = p.shape[0];
            using var slice = Weight.narrow(0, row, n);
            p.set_(slice); // p now views Weight; set_ returns p itself, so nothing to dispose
            row += n;
        }
    }

    /// <summary>[Σ rows, in]: the parts one after the other.</summary>
    public Tensor Weight { get; }

    /// <inheritdoc/>
    public void Dispose() => Weight.Dispose();
}
