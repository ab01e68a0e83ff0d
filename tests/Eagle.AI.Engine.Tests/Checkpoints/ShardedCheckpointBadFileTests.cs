using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>Broken sharded indexes raise <see cref="CheckpointException"/> naming the file and tensor at fault.</summary>
public sealed class ShardedCheckpointBadFileTests : IDisposable
{
    private const string Index = "model.safetensors.index.json";
    private readonly TempDir dir = new();

    public ShardedCheckpointBadFileTests()
    {
        using var a = Fixtures.Values([2], torch.ScalarType.Float32);
        using var b = Fixtures.Values([3], torch.ScalarType.BFloat16);
        SafetensorsWriter.WriteSharded(dir.Path, [new("a.weight", a), new("b.weight", b)], maxShardBytes: 8);
    }

    public void Dispose() => dir.Dispose();

    private void WriteIndex(Dictionary<string, string> weightMap) =>
        File.WriteAllText(dir.File(Index), JsonSerializer.Serialize(new { metadata = new { total_size = 14 }, weight_map = weightMap }));

    [Fact]
    public void Valid_Opens()
    {
        using var source = Checkpoint.Open(dir.Path);
        Assert.Equal(2, source.Tensors.Count);
    }

    [Fact]
    public void IndexNamesMissingShard()
    {
        WriteIndex(new() { ["a.weight"] = "model-00001-of-00002.safetensors", ["b.weight"] = "model-00009-of-00009.safetensors" });
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), "model-00009-of-00009.safetensors", "b.weight", "not found");
    }

    [Fact]
    public void IndexPlacesTensorInWrongShard()
    {
        WriteIndex(new() { ["a.weight"] = "model-00001-of-00002.safetensors", ["b.weight"] = "model-00001-of-00002.safetensors" });
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), "model-00001-of-00002.safetensors", "b.weight", "does not contain it");
    }

    [Fact]
    public void IndexNamesTensorNoShardHas()
    {
        WriteIndex(new()
        {
            ["a.weight"] = "model-00001-of-00002.safetensors",
            ["b.weight"] = "model-00002-of-00002.safetensors",
            ["ghost.weight"] = "model-00002-of-00002.safetensors",
        });
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), "model-00002-of-00002.safetensors", "ghost.weight");
    }

    [Fact]
    public void ShardIsCorrupt()
    {
        File.WriteAllBytes(dir.File("model-00002-of-00002.safetensors"), [9, 9, 9]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), "model-00002-of-00002.safetensors", says: "truncated");
    }

    [Fact]
    public void IndexNotJson()
    {
        File.WriteAllText(dir.File(Index), "{ weight_map: nope");
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), Index, says: "invalid index JSON");
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("{\"weight_map\":[]}")]
    public void IndexWithoutWeightMap(string json)
    {
        File.WriteAllText(dir.File(Index), json);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), Index, says: "weight_map");
    }

    [Fact]
    public void WeightMapValueNotAString()
    {
        File.WriteAllText(dir.File(Index), "{\"weight_map\":{\"a.weight\":3}}");
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), Index, "a.weight", "shard file name");
    }

    [Theory]
    [InlineData("../model-00001-of-00002.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("")]
    public void WeightMapPathOutsideFolder(string shard)
    {
        WriteIndex(new() { ["a.weight"] = shard });
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.Path), Index, "a.weight", "beside the index");
    }
}
