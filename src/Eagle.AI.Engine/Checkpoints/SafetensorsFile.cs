using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>
/// One <c>.safetensors</c> file. Aligned tensors are served from a lazily paged, private memory mapping of the whole
/// file (one per stored dtype, made with <c>torch.from_file</c>, since 0.107 cannot bit-cast a mapping), narrowed to the
/// tensor and copied out; tensors whose offset is not a multiple of their element size are read with a file stream.
/// </summary>
internal sealed class SafetensorsFile : ITensorSource
{
    private readonly SafetensorsHeader header;
    private readonly Dictionary<torch.ScalarType, torch.Tensor> mappings = [];
    private readonly Lock mappingLock = new();
    private bool disposed;

    /// <summary>Reads and validates the header of <paramref name="path"/>; the data is not touched until loaded.</summary>
    /// <exception cref="CheckpointException">The file is missing, truncated or malformed.</exception>
    public SafetensorsFile(string path)
    {
        header = SafetensorsHeader.Read(path);
        Tensors = header.Entries.Values.ToDictionary(
            e => e.Name, e => new TensorInfo(e.Name, e.DType, e.Shape, path), StringComparer.Ordinal);
    }

    /// <inheritdoc/>
    public string Path => header.Path;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> map.</summary>
    public IReadOnlyDictionary<string, string> Metadata => header.Metadata;

    /// <inheritdoc/>
    public torch.Tensor Load(string name, torch.ScalarType dtype, torch.Device device)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!header.Entries.TryGetValue(name, out var entry))
            throw new CheckpointException(Path, name, "not in this checkpoint");
        torch.ScalarType stored = DTypes.Loadable(entry.DType)
            ?? throw new CheckpointException(Path, name, $"unsupported dtype '{entry.DType}' (supported: {DTypes.Supported})");
        if (entry.NumElements == 0)
            return torch.empty(entry.Shape, dtype, device);

        long absolute = header.DataStart + entry.Begin;
        int size = entry.ElementSize;
        if (absolute % size != 0)
            return ReadUnaligned(entry, absolute, stored, dtype, device);

        var whole = Mapping(stored, size, name);
        using var flat = whole.narrow(0, absolute / size, entry.NumElements);
        using var view = flat.view(entry.Shape);
        return TensorBytes.CopyOut(view, dtype, device);
    }

    private torch.Tensor ReadUnaligned(SafetensorsEntry entry, long absolute, torch.ScalarType stored,
        torch.ScalarType dtype, torch.Device device)
    {
        try
        {
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, TensorBytes.BufferBytes);
            stream.Seek(absolute, SeekOrigin.Begin);
            return TensorBytes.Read(stream, stored, entry.Shape, dtype, device);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(Path, entry.Name, $"cannot read the data: {e.Message}", e);
        }
    }

    // The mapping covers the whole file in units of one dtype, so every aligned tensor of that dtype is a narrow of it.
    // Before mapping, the file must still be the size the header was validated against: a mapping past a file's end
    // faults the process instead of throwing.
    private torch.Tensor Mapping(torch.ScalarType stored, int size, string name)
    {
        lock (mappingLock)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (mappings.TryGetValue(stored, out var existing)) return existing;
            long length;
            try
            {
                length = new FileInfo(Path).Length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointException(Path, name, $"cannot stat the file: {e.Message}", e);
            }
            if (length != header.FileLength)
                throw new CheckpointException(Path, name,
                    $"the file changed size since it was opened ({header.FileLength} -> {length} bytes)");
            torch.Tensor mapping;
            try
            {
                mapping = torch.from_file(Path, shared: false, size: header.FileLength / size, dtype: stored);
            }
            catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or IOException)
            {
                throw new CheckpointException(Path, name, $"cannot memory-map the file: {e.Message}", e);
            }
            mappings.Add(stored, mapping);
            return mapping;
        }
    }

    /// <summary>Releases the mappings; tensors already returned by <see cref="Load"/> stay valid.</summary>
    public void Dispose()
    {
        lock (mappingLock)
        {
            if (disposed) return;
            disposed = true;
            foreach (var mapping in mappings.Values) mapping.Dispose();
            mappings.Clear();
        }
    }
}
