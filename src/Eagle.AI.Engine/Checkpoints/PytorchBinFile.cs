using System.Collections;
using System.IO.Compression;
using System.Text;
using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>
/// A <c>pytorch_model.bin</c> as <c>torch.save</c> writes it: a zip archive with one top folder (its name varies)
/// holding <c>data.pkl</c> (the pickled state dict, tensors replaced by storage references), <c>data/&lt;key&gt;</c>
/// (each storage's raw little-endian bytes) and optionally <c>byteorder</c>. The pickle is read when the file is opened;
/// each tensor's bytes are read from its storage entry only when it is loaded.
/// </summary>
/// <remarks>
/// Only contiguous tensors are supported (every state dict written by <c>torch.save(model.state_dict())</c> is);
/// the legacy non-zip format of PyTorch before 1.6 is not.
/// </remarks>
internal sealed class PytorchBinFile : ITensorSource
{
    /// <summary>A state dict's pickle is a few bytes per tensor; anything near this is not a state dict.</summary>
    private const long MaxPickleBytes = 1L << 30;

    private readonly ZipArchive archive;
    private readonly Dictionary<string, (PickledTensor Tensor, ZipArchiveEntry Entry)> entries = new(StringComparer.Ordinal);
    private readonly Lock readLock = new();
    private bool disposed;

    /// <summary>Opens the archive, unpickles the state dict and validates every tensor against its storage entry.</summary>
    /// <exception cref="CheckpointException">Missing file, not a zip, bad pickle, or a tensor that does not fit.</exception>
    public PytorchBinFile(string path)
    {
        Path = path;
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointException(path, null, "file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, null, $"cannot read: {e.Message}", e);
        }
        try
        {
            archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception e) when (IsArchiveError(e))
        {
            stream.Dispose();
            throw new CheckpointException(path, null,
                $"not a torch.save zip archive (legacy pre-1.6 torch.save files are not supported): {e.Message}", e);
        }
        try
        {
            Tensors = ReadStateDict();
        }
        catch (Exception e) when (IsArchiveError(e))
        {
            // The central directory is read lazily, on the first look at the entries.
            archive.Dispose();
            throw new CheckpointException(path, null, $"damaged zip archive: {e.Message}", e);
        }
        catch
        {
            archive.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    private Dictionary<string, TensorInfo> ReadStateDict()
    {
        var pickleEntry = FindPickle();
        string prefix = pickleEntry.FullName[..^"data.pkl".Length];
        CheckByteOrder(prefix);

        object? root;
        try
        {
            if (pickleEntry.Length > MaxPickleBytes)
                throw new CheckpointException(Path, null, $"data.pkl is {pickleEntry.Length} bytes, too large for a state dict");
            byte[] pickle = ReadAll(pickleEntry);
            root = TorchUnpickler.Unpickle(pickle);
        }
        catch (CheckpointException)
        {
            throw;
        }
        catch (Exception e)
        {
            // Razorvine reports malformed pickles with many exception types (PickleException, InvalidCastException,
            // IndexOutOfRangeException, ...); all of them mean the same thing here.
            throw new CheckpointException(Path, null, $"invalid pickle in {pickleEntry.FullName}: {e.Message}", e);
        }
        if (root is not IDictionary dict)
            throw new CheckpointException(Path, null, "data.pkl does not hold a state dict (a dict of name -> tensor)");

        var infos = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (DictionaryEntry item in dict)
        {
            if (item.Key is not string name)
                throw new CheckpointException(Path, null, $"state dict key {item.Key} is not a string");
            if (item.Value is not PickledTensor tensor)
                throw new CheckpointException(Path, name, $"value is not a tensor ({item.Value?.GetType().Name ?? "None"})");
            var entry = Validate(prefix, name, tensor);
            entries.Add(name, (tensor, entry));
            infos.Add(name, new TensorInfo(name, tensor.Storage.Type.DType, tensor.Shape, Path));
        }
        return infos;
    }

    // torch.save names the top folder after the file ("archive" in recent versions), so find data.pkl one level down.
    private ZipArchiveEntry FindPickle()
    {
        var candidates = archive.Entries
            .Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
            .ToList();
        return candidates.Count switch
        {
            1 => candidates[0],
            0 => archive.GetEntry("data.pkl")
                ?? throw new CheckpointException(Path, null, "no <folder>/data.pkl in the archive: not a torch.save file"),
            _ => throw new CheckpointException(Path, null,
                $"several data.pkl in the archive ({string.Join(", ", candidates.Select(c => c.FullName))})"),
        };
    }

    private void CheckByteOrder(string prefix)
    {
        var entry = archive.GetEntry(prefix + "byteorder");
        if (entry is null) return; // written since PyTorch 2.1; older files are little-endian
        string order;
        try
        {
            order = Encoding.ASCII.GetString(ReadAll(entry, maxBytes: 64)).Trim();
        }
        catch (Exception e) when (IsArchiveError(e))
        {
            throw new CheckpointException(Path, null, $"cannot read {entry.FullName}: {e.Message}", e);
        }
        if (order != "little")
            throw new CheckpointException(Path, null, $"byte order '{order}' is not supported (only little-endian)");
    }

    private ZipArchiveEntry Validate(string prefix, string name, PickledTensor tensor)
    {
        void Need(bool ok, string what)
        {
            if (!ok) throw new CheckpointException(Path, name, what);
        }
        var storage = tensor.Storage;
        int size = storage.Type.ElementSize;
        long? numel = DTypes.NumElements(tensor.Shape);
        Need(numel is not null, $"shape [{string.Join(", ", tensor.Shape)}] is negative or too large");
        Need(tensor.StorageOffset >= 0, $"storage offset {tensor.StorageOffset} is negative");
        Need(numel == 0 || IsContiguous(tensor.Shape, tensor.Stride),
            $"non-contiguous tensor (shape [{string.Join(", ", tensor.Shape)}], stride [{string.Join(", ", tensor.Stride)}]) " +
            "is not supported; save .contiguous() tensors");
        Need(numel == 0 || tensor.StorageOffset <= storage.NumElements - numel,
            $"elements [{tensor.StorageOffset}, +{numel}) lie outside storage '{storage.Key}' of {storage.NumElements} elements");
        var entry = archive.GetEntry(prefix + "data/" + storage.Key);
        Need(entry is not null, $"storage entry '{prefix}data/{storage.Key}' is missing from the archive");
        Need(storage.NumElements <= entry!.Length / size,
            $"storage entry '{entry.FullName}' has {entry.Length} bytes, fewer than {storage.NumElements} x {size}: truncated");
        return entry;
    }

    private static bool IsContiguous(long[] shape, long[] stride)
    {
        if (shape.Length != stride.Length) return false;
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i]; // cannot overflow: the element count was checked first
        }
        return true;
    }

    /// <inheritdoc/>
    public torch.Tensor Load(string name, torch.ScalarType dtype, torch.Device device)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!entries.TryGetValue(name, out var found))
            throw new CheckpointException(Path, name, "not in this checkpoint");
        var (tensor, entry) = found;
        var type = tensor.Storage.Type;
        torch.ScalarType stored = DTypes.Loadable(type.DType)
            ?? throw new CheckpointException(Path, name,
                $"unsupported dtype '{type.DType}' (torch.{type.TorchName}; supported: {DTypes.Supported})");
        if (DTypes.NumElements(tensor.Shape) == 0)
            return torch.empty(tensor.Shape, dtype, device);
        // A zip archive reads through one file position, so reads are serialised.
        lock (readLock)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            try
            {
                using var stream = entry.Open();
                TensorBytes.Skip(stream, tensor.StorageOffset * type.ElementSize);
                return TensorBytes.Read(stream, stored, tensor.Shape, dtype, device);
            }
            catch (Exception e) when (IsArchiveError(e))
            {
                throw new CheckpointException(Path, name, $"cannot read storage entry '{entry.FullName}': {e.Message}", e);
            }
        }
    }

    private static byte[] ReadAll(ZipArchiveEntry entry, long maxBytes = MaxPickleBytes)
    {
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes) throw new InvalidDataException($"{entry.FullName} is larger than {maxBytes} bytes");
        }
        return buffer.ToArray();
    }

    // What System.IO.Compression throws for a damaged archive or entry, and a stream that ends early.
    private static bool IsArchiveError(Exception e) =>
        e is InvalidDataException or IOException or NotSupportedException or ArgumentException;

    /// <summary>Closes the archive; tensors already returned by <see cref="Load"/> stay valid.</summary>
    public void Dispose()
    {
        lock (readLock)
        {
            if (disposed) return;
            disposed = true;
            archive.Dispose();
        }
    }
}
