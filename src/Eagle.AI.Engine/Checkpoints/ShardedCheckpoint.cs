using System.Text.Json;
using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>
/// A sharded Hugging Face checkpoint: <c>model.safetensors.index.json</c> or <c>pytorch_model.bin.index.json</c>,
/// <c>{"metadata": {...}, "weight_map": {tensor: shard file}}</c>, with the shards beside it. Every shard is opened and
/// checked against the index up front, so a missing shard or a tensor the index misplaces fails at open time.
/// </summary>
/// <remarks>The index's weight_map is authoritative: tensors a shard holds but the index does not list are not exposed.</remarks>
internal sealed class ShardedCheckpoint : ITensorSource
{
    private readonly Dictionary<string, ITensorSource> shardOfTensor = new(StringComparer.Ordinal);
    private readonly List<ITensorSource> shards = [];

    /// <summary>Reads the index at <paramref name="indexPath"/> and opens every shard it names.</summary>
    /// <exception cref="CheckpointException">The index is missing or malformed, a shard is missing or bad, or a shard
    /// lacks a tensor the index assigns to it.</exception>
    public ShardedCheckpoint(string indexPath)
    {
        Path = indexPath;
        var weightMap = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var byFile = new Dictionary<string, ITensorSource>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, file) in weightMap)
            {
                if (!byFile.TryGetValue(file, out var shard))
                {
                    string shardPath = System.IO.Path.Combine(folder, file);
                    if (!File.Exists(shardPath))
                        throw new CheckpointException(shardPath, name,
                            $"shard '{file}' named by {System.IO.Path.GetFileName(indexPath)} not found");
                    shard = OpenShard(shardPath);
                    byFile.Add(file, shard);
                    shards.Add(shard);
                }
                if (!shard.Tensors.TryGetValue(name, out var info))
                    throw new CheckpointException(shard.Path, name,
                        $"{System.IO.Path.GetFileName(indexPath)} places this tensor in shard '{file}', which does not contain it");
                shardOfTensor.Add(name, shard);
                tensors.Add(name, info);
            }
        }
        catch
        {
            foreach (var shard in shards) shard.Dispose();
            throw;
        }
        Tensors = tensors;
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <inheritdoc/>
    public torch.Tensor Load(string name, torch.ScalarType dtype, torch.Device device) =>
        shardOfTensor.TryGetValue(name, out var shard)
            ? shard.Load(name, dtype, device)
            : throw new CheckpointException(Path, name, "not in this checkpoint");

    /// <summary>Closes every shard; tensors already returned by <see cref="Load"/> stay valid.</summary>
    public void Dispose()
    {
        foreach (var shard in shards) shard.Dispose();
        shards.Clear();
    }

    private static ITensorSource OpenShard(string path) =>
        path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? new PytorchBinFile(path) : new SafetensorsFile(path);

    private static List<(string Name, string File)> ReadWeightMap(string indexPath)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(indexPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointException(indexPath, null, "file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(indexPath, null, $"cannot read: {e.Message}", e);
        }
        var result = new List<(string, string)>();
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(indexPath, null, "index must be an object with a \"weight_map\" object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in map.EnumerateObject())
            {
                if (!seen.Add(item.Name))
                    throw new CheckpointException(indexPath, item.Name, "listed twice in weight_map");
                if (item.Value.ValueKind != JsonValueKind.String)
                    throw new CheckpointException(indexPath, item.Name, "weight_map value must be a shard file name");
                string file = item.Value.GetString()!;
                // Shards live beside the index; a path would let an index point anywhere on disk.
                if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                    throw new CheckpointException(indexPath, item.Name, $"shard '{file}' must be a file name beside the index");
                result.Add((item.Name, file));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException(indexPath, null, $"invalid index JSON: {e.Message}", e);
        }
        return result;
    }
}
