using System.Buffers.Binary;
using System.Text.Json;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>One tensor's header entry after validation: offsets are relative to the start of the data section.</summary>
internal sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End, int ElementSize)
{
    /// <summary>The number of elements (1 for a scalar).</summary>
    public long NumElements => (End - Begin) / ElementSize;
}

/// <summary>
/// A safetensors header, parsed and fully validated: an 8-byte little-endian length N, N bytes of UTF-8 JSON, then the
/// data. Everything a later memory mapping relies on (offsets inside the file, sizes matching shapes, no overlaps) is
/// checked here, so no native call ever sees an offset that this class has not proven safe.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>The reference implementation refuses larger headers; a larger length means a corrupt file.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private SafetensorsHeader(string path, long fileLength, long dataStart,
        Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        DataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>The file the header was read from.</summary>
    public string Path { get; }

    /// <summary>The file's length when the header was read; a mapping is refused if the file has changed since.</summary>
    public long FileLength { get; }

    /// <summary>Absolute file offset of the data section (8 + N).</summary>
    public long DataStart { get; }

    /// <summary>The tensors, by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointException">The file is missing, truncated or its header is malformed.</exception>
    public static SafetensorsHeader Read(string path)
    {
        byte[] json;
        long fileLength;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            fileLength = stream.Length;
            if (fileLength < 8)
                throw new CheckpointException(path, null, $"truncated: {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n > (ulong)(fileLength - 8))
                throw new CheckpointException(path, null, $"header length {n} runs past the end of the file ({fileLength} bytes): truncated or corrupt");
            if (n > MaxHeaderBytes)
                throw new CheckpointException(path, null, $"header length {n} exceeds the {MaxHeaderBytes}-byte limit");
            json = new byte[n];
            stream.ReadExactly(json);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointException(path, null, "file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, null, $"cannot read: {e.Message}", e);
        }
        return Parse(path, fileLength, json);
    }

    private static SafetensorsHeader Parse(string path, long fileLength, byte[] json)
    {
        long dataStart = 8 + json.LongLength;
        long dataLength = fileLength - dataStart;
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(path, null, $"header JSON must be an object, not {doc.RootElement.ValueKind}");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name))
                    throw new CheckpointException(path, name, "appears twice in the header");
                if (name == "__metadata__")
                    ReadMetadata(path, property.Value, metadata);
                else
                    entries.Add(name, ReadEntry(path, name, property.Value, dataLength));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            // JsonException: not JSON; InvalidOperationException/ArgumentException: text that is not valid UTF-8.
            throw new CheckpointException(path, null, $"invalid header JSON: {e.Message}", e);
        }
        CheckOverlaps(path, entries.Values);
        return new SafetensorsHeader(path, fileLength, dataStart, entries, metadata);
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointException(path, null, "__metadata__ must be an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointException(path, null, $"__metadata__ value '{item.Name}' must be a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string path, string name, JsonElement value, long dataLength)
    {
        void Need(bool ok, string what)
        {
            if (!ok) throw new CheckpointException(path, name, what);
        }
        Need(value.ValueKind == JsonValueKind.Object, "header entry must be an object with dtype, shape and data_offsets");
        Need(value.TryGetProperty("dtype", out var dtypeJson) && dtypeJson.ValueKind == JsonValueKind.String,
            "dtype must be a string");
        string dtype = dtypeJson.GetString()!;
        int? size = DTypes.ElementSize(dtype);
        Need(size is not null, $"unsupported dtype '{dtype}' (supported: {DTypes.Supported})");
        int elementSize = size!.Value;

        Need(value.TryGetProperty("shape", out var shapeJson), "shape is missing");
        long[] shape = ReadNonNegativeInts(shapeJson)
            ?? throw new CheckpointException(path, name, "shape must be an array of non-negative integers");
        Need(value.TryGetProperty("data_offsets", out var offsetsJson), "data_offsets is missing");
        long[] offsets = ReadNonNegativeInts(offsetsJson)
            ?? throw new CheckpointException(path, name, "data_offsets must be an array of non-negative integers");
        Need(offsets.Length == 2, $"data_offsets must have 2 entries, not {offsets.Length}");
        long begin = offsets[0], end = offsets[1];
        Need(end >= begin, $"data_offsets [{begin}, {end}]: end is before begin");
        Need(end <= dataLength,
            $"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes): file truncated or corrupt");

        long? numel = DTypes.NumElements(shape);
        Need(numel is not null, $"shape [{string.Join(", ", shape)}] has too many elements");
        long expected;
        try
        {
            expected = checked(numel!.Value * elementSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointException(path, name, $"shape [{string.Join(", ", shape)}] has too many elements");
        }
        Need(end - begin == expected,
            $"data_offsets [{begin}, {end}] span {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {expected}");
        return new SafetensorsEntry(name, dtype, shape, begin, end, elementSize);
    }

    private static long[]? ReadNonNegativeInts(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array) return null;
        var result = new long[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0) return null;
            result[i++] = v;
        }
        return result;
    }

    // Two tensors sharing bytes would alias each other after loading and signal a corrupt or hostile file. Holes and
    // trailing bytes are tolerated (they are harmless), and empty tensors occupy no bytes so cannot overlap.
    private static void CheckOverlaps(string path, IEnumerable<SafetensorsEntry> entries)
    {
        SafetensorsEntry? previous = null;
        foreach (var e in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (previous is not null && e.Begin < previous.End)
                throw new CheckpointException(path, e.Name,
                    $"data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous.Name}' [{previous.Begin}, {previous.End}]");
            previous = e;
        }
    }
}
