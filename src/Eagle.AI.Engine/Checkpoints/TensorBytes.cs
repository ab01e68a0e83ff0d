using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>Moves raw little-endian tensor bytes between streams and tensors, one tensor at a time.</summary>
internal static class TensorBytes
{
    /// <summary>Copy buffer size: large enough that per-read overhead vanishes; one buffer per tensor read.</summary>
    public const int BufferBytes = 1 << 20;

    /// <summary>
    /// Reads a tensor of <paramref name="stored"/> type and <paramref name="shape"/> from <paramref name="stream"/>'s
    /// current position, then converts it. Only this one tensor is held in host memory.
    /// </summary>
    /// <exception cref="EndOfStreamException">The stream ends before the tensor's bytes do.</exception>
    public static torch.Tensor Read(Stream stream, torch.ScalarType stored, long[] shape, torch.ScalarType dtype, torch.Device device)
    {
        var raw = torch.empty(shape, stored);
        try
        {
            raw.ReadBytesFromStream(stream, BufferBytes);
        }
        catch
        {
            raw.Dispose();
            throw;
        }
        return ConvertOwned(raw, dtype, device);
    }

    /// <summary>
    /// Converts a tensor this code allocated itself: when no conversion is needed the result shares its storage, which
    /// is fine because nothing else references it.
    /// </summary>
    public static torch.Tensor ConvertOwned(torch.Tensor raw, torch.ScalarType dtype, torch.Device device)
    {
        using (raw)
            return raw.to(dtype, device);
    }

    /// <summary>
    /// Converts a tensor that aliases shared storage (a memory mapping) into an independent copy, even when dtype and
    /// device already match, so the result survives the mapping being released.
    /// </summary>
    public static torch.Tensor CopyOut(torch.Tensor view, torch.ScalarType dtype, torch.Device device) =>
        view.to(dtype, device, copy: true);

    /// <summary>Skips <paramref name="count"/> bytes of a stream that may not support seeking (a zip entry).</summary>
    /// <exception cref="EndOfStreamException">The stream is shorter than that.</exception>
    public static void Skip(Stream stream, long count)
    {
        if (count == 0) return;
        if (stream.CanSeek)
        {
            if (stream.Position + count > stream.Length) throw new EndOfStreamException();
            stream.Seek(count, SeekOrigin.Current);
            return;
        }
        byte[] buffer = new byte[(int)Math.Min(count, BufferBytes)];
        while (count > 0)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(count, buffer.Length));
            if (read == 0) throw new EndOfStreamException();
            count -= read;
        }
    }
}
