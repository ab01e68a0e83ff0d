using System.Buffers.Binary;
using System.Collections;
using System.IO.Compression;
using Eagle.AI.Engine.Checkpoints;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// Reads a small int64 tensor (EAGLE-3's <c>d2t</c>) from a checkpoint. <see cref="ITensorSource.Load"/> converts only
/// floating dtypes (F32/F16/BF16), so an I64 tensor is read here from the file named by its <see cref="TensorInfo"/>:
/// a safetensors file by its header offsets, a torch.save archive by its pickled storage reference. Tensors in a
/// dtype the source can load go through <see cref="ITensorSource.Load"/>.
/// </summary>
internal static class IntegerTensorReader
{
    /// <summary>The values of tensor <paramref name="name"/>, flattened.</summary>
    /// <exception cref="CheckpointException">The tensor is missing, not an integer/floating dtype we read, or unreadable.</exception>
    public static long[] ReadInt64(ITensorSource source, string name)
    {
        if (!source.Tensors.TryGetValue(name, out var info))
            throw new CheckpointException(source.Path, name, "not in this checkpoint");
        if (DTypes.Loadable(info.DType) is not null || info.DType != "I64")
        {
            using var loaded = source.Load(name, ScalarType.Int64, CPU); // also rejects dtypes neither path reads
            return loaded.data<long>().ToArray();
        }
        long count = DTypes.NumElements(info.Shape) ?? throw new CheckpointException(info.File, name, "invalid shape");
        try
        {
            return IsZip(info.File) ? FromTorchSave(info.File, name, count) : FromSafetensors(info.File, name, count);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new CheckpointException(info.File, name, $"cannot read the data: {e.Message}", e);
        }
    }

    private static long[] FromSafetensors(string file, string name, long count)
    {
        var header = SafetensorsHeader.Read(file);
        var entry = header.Entries[name];
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        stream.Seek(header.DataStart + entry.Begin, SeekOrigin.Begin);
        return ReadLongs(stream, count);
    }

    private static long[] FromTorchSave(string file, string name, long count)
    {
        using var archive = ZipFile.OpenRead(file);
        var pickle = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') <= 1)
            ?? throw new CheckpointException(file, name, "no data.pkl in the archive");
        string prefix = pickle.FullName[..^"data.pkl".Length];
        byte[] bytes;
        using (var s = pickle.Open())
        using (var buffer = new MemoryStream())
        {
            s.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        object? root;
        try
        {
            root = TorchUnpickler.Unpickle(bytes);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException(file, name, $"invalid pickle: {e.Message}", e);
        }
        if (root is not IDictionary dict || dict[name] is not PickledTensor tensor)
            throw new CheckpointException(file, name, "not a tensor in the state dict");
        var entry = archive.GetEntry(prefix + "data/" + tensor.Storage.Key)
            ?? throw new CheckpointException(file, name, $"storage entry data/{tensor.Storage.Key} is missing");
        using var data = entry.Open();
        Skip(data, tensor.StorageOffset * 8);
        return ReadLongs(data, count);
    }

    private static long[] ReadLongs(Stream stream, long count)
    {
        var raw = new byte[checked(count * 8)];
        stream.ReadExactly(raw);
        var values = new long[count];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(i * 8, 8));
        return values;
    }

    private static void Skip(Stream stream, long bytes)
    {
        var buffer = new byte[Math.Min(bytes, 1 << 16)];
        while (bytes > 0)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(bytes, buffer.Length));
            if (read == 0) throw new EndOfStreamException();
            bytes -= read;
        }
    }

    private static bool IsZip(string file)
    {
        using var stream = File.OpenRead(file);
        Span<byte> magic = stackalloc byte[4];
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic is [0x50, 0x4B, 0x03, 0x04];
    }
}
