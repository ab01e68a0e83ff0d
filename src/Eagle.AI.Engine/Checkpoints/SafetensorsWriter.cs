using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>
/// Writes safetensors files the way the Hugging Face writer does: an 8-byte header length, a JSON header padded with
/// spaces so the data starts 8-byte aligned, then each tensor's bytes. Tensors are ordered by element size (largest
/// first) and then by name, so every tensor's offset is a multiple of its element size (it can be memory-mapped) and
/// the same tensors always produce the same bytes.
/// </summary>
internal static class SafetensorsWriter
{
    private const string IndexFileName = "model.safetensors.index.json";

    // Names are written as-is (as Python's json.dumps with ensure_ascii=False would), not HTML-escaped: the header is
    // never embedded in a web page, and plain names keep headers readable and byte-identical to other writers'.
    private static readonly JavaScriptEncoder Relaxed = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device; F32, F16, BF16, and also F64/I64/I32/I16/I8/U8/BOOL) to
    /// <paramref name="path"/>. The file is written beside the target and renamed over it, so a reader that has the old
    /// file mapped keeps seeing the old bytes. Tensors are copied to the host one at a time.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Name/tensor pairs; names must be unique and must not be <c>__metadata__</c>.</param>
    /// <param name="metadata">The optional <c>__metadata__</c> map (Hugging Face writes <c>{"format": "pt"}</c>).</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name, or a dtype safetensors cannot hold.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = Describe(tensors);
        byte[] header = Header(items, metadata);

        string full = Path.GetFullPath(path);
        string temp = full + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, TensorBytes.BufferBytes))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                foreach (var item in items)
                {
                    if (item.Bytes == 0) continue;
                    // A detached, contiguous host copy: the source may be on a GPU, strided, or require grad.
                    using var detached = item.Tensor.detach();
                    using var host = detached.cpu();
                    using var contiguous = host.contiguous();
                    contiguous.WriteBytesToStream(stream, TensorBytes.BufferBytes);
                }
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="folder"/> as Hugging Face shards
    /// (<c>model-00001-of-00003.safetensors</c>, ...) plus <c>model.safetensors.index.json</c>
    /// (<c>{"metadata":{"total_size":N},"weight_map":{name: shard}}</c>). Tensors are assigned to shards in the order
    /// given; a new shard starts when the next tensor would take the current one past <paramref name="maxShardBytes"/>
    /// (a single tensor larger than that gets a shard of its own).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShardBytes"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A duplicate or reserved name, or a dtype safetensors cannot hold.</exception>
    public static void WriteSharded(string folder, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, long maxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var items = Describe(tensors);

        var shards = new List<List<Item>> { new() };
        long current = 0;
        foreach (var item in items.OrderBy(i => i.Position))
        {
            if (shards[^1].Count > 0 && current + item.Bytes > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(item);
            current += item.Bytes;
        }

        Directory.CreateDirectory(folder);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var format = new Dictionary<string, string> { ["format"] = "pt" };
        for (int s = 0; s < shards.Count; s++)
        {
            string file = string.Create(CultureInfo.InvariantCulture, $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors");
            Write(Path.Combine(folder, file), shards[s].Select(i => KeyValuePair.Create(i.Name, i.Tensor)), format);
            foreach (var item in shards[s]) weightMap[item.Name] = file;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = Relaxed }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", items.Sum(i => i.Bytes));
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap) json.WriteString(name, file);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        string indexPath = Path.Combine(folder, IndexFileName);
        string temp = indexPath + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temp, buffer.ToArray());
        File.Move(temp, indexPath, overwrite: true);
    }

    private sealed record Item(int Position, string Name, torch.Tensor Tensor, string DType, int ElementSize, long Bytes)
    {
        public long Begin { get; set; }
    }

    // Validates names and dtypes and fixes the on-disk order; nothing is written until every tensor has passed.
    private static List<Item> Describe(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        var items = new List<Item>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            ArgumentNullException.ThrowIfNull(name, nameof(tensors));
            ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
            if (name == "__metadata__")
                throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor", nameof(tensors));
            if (!names.Add(name))
                throw new ArgumentException($"tensor '{name}' is given twice", nameof(tensors));
            string dtype = DTypes.Spelling(tensor.dtype)
                ?? throw new ArgumentException($"tensor '{name}': dtype {tensor.dtype} cannot be written to safetensors", nameof(tensors));
            int size = DTypes.ElementSize(dtype)!.Value;
            items.Add(new Item(items.Count, name, tensor, dtype, size, checked(tensor.numel() * size)));
        }
        items.Sort((a, b) => a.ElementSize != b.ElementSize
            ? b.ElementSize.CompareTo(a.ElementSize)
            : string.CompareOrdinal(a.Name, b.Name));
        long offset = 0;
        foreach (var item in items)
        {
            item.Begin = offset;
            offset += item.Bytes;
        }
        return items;
    }

    private static byte[] Header(List<Item> items, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Relaxed }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var item in items)
            {
                json.WriteStartObject(item.Name);
                json.WriteString("dtype", item.DType);
                json.WriteStartArray("shape");
                foreach (long d in item.Tensor.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(item.Begin);
                json.WriteNumberValue(item.Begin + item.Bytes);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces (valid JSON whitespace) so the data section starts on an 8-byte boundary.
        long unpadded = buffer.Length;
        long padded = (8 + unpadded + 7) / 8 * 8 - 8;
        byte[] header = new byte[padded];
        buffer.GetBuffer().AsSpan(0, (int)unpadded).CopyTo(header);
        header.AsSpan((int)unpadded).Fill((byte)' ');
        return header;
    }
}
