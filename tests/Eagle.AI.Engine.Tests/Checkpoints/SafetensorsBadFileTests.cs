using System.Buffers.Binary;
using System.Text;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>Every malformed safetensors file must raise exactly <see cref="CheckpointException"/>, naming file and tensor.</summary>
public sealed class SafetensorsBadFileTests : IDisposable
{
    private const string Good = "{\"good.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Raw(string header, int dataBytes = 64, string name = "bad.safetensors")
    {
        string path = dir.File(name);
        Fixtures.WriteRaw(path, header, new byte[dataBytes]);
        return path;
    }

    /// <summary>A valid one-tensor header plus one more entry <c>bad.tensor</c> described by <paramref name="entry"/>.</summary>
    private string WithEntry(string entry, int dataBytes = 64) => Raw(Good + ",\"bad.tensor\":" + entry + "}", dataBytes);

    private string WriteValid(string name = "valid.safetensors")
    {
        string path = dir.File(name);
        using var a = Fixtures.Values([4, 4], torch.ScalarType.Float32);
        using var b = Fixtures.Values([8], torch.ScalarType.Float16);
        SafetensorsWriter.Write(path, [new("a.weight", a), new("b.weight", b)]);
        return path;
    }

    [Fact]
    public void MissingFile() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.File("absent.safetensors")), "absent.safetensors", says: "not found");

    [Fact]
    public void MissingFile_DirectConstructor() =>
        Fixtures.AssertCheckpointError(() => new SafetensorsFile(dir.File("gone.safetensors")), "gone.safetensors", says: "not found");

    [Fact]
    public void ShorterThanLengthPrefix()
    {
        string path = dir.File("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "truncated");
    }

    [Fact]
    public void EmptyFile()
    {
        string path = dir.File("empty.safetensors");
        File.WriteAllBytes(path, []);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "truncated");
    }

    [Fact]
    public void TruncatedInsideHeader()
    {
        string path = WriteValid();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..20]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "past the end");
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    [InlineData(1UL << 40)]
    public void HeaderLengthBeyondFile(ulong length)
    {
        string path = WriteValid();
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
        File.WriteAllBytes(path, bytes);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "past the end");
    }

    [Fact]
    public void DataShorterThanLargestOffset()
    {
        string path = WriteValid();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        // b.weight (F16) is stored last: its end offset is now past the data.
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, "b.weight", "run past the end of the data");
    }

    [Fact]
    public void HeaderNotJson() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(Raw("this is not json at all")), "bad.safetensors", says: "invalid header JSON");

    [Fact]
    public void HeaderUnterminatedJson() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(Raw(Good)), "bad.safetensors", says: "invalid header JSON");

    [Fact]
    public void HeaderInvalidUtf8()
    {
        string path = dir.File("utf8.safetensors");
        byte[] header = [.. Encoding.ASCII.GetBytes("{\"a"), 0xFF, 0xFE, .. Encoding.ASCII.GetBytes("\":{}}")];
        using (var s = File.Create(path))
        {
            byte[] prefix = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            s.Write(prefix);
            s.Write(header);
        }
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "invalid header JSON");
    }

    [Theory]
    [InlineData("[1,2,3]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void HeaderNotAnObject(string json) =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(Raw(json)), "bad.safetensors", says: "must be an object");

    [Theory]
    [InlineData("3")]
    [InlineData("\"2\"")]
    [InlineData("[2,-1]")]
    [InlineData("[2.5]")]
    [InlineData("[\"2\"]")]
    [InlineData("[[2]]")]
    [InlineData("[null]")]
    [InlineData("[1e40]")]
    [InlineData("{}")]
    public void ShapeNotAnArrayOfNonNegativeInts(string shape) =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry($"{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[8,16]}}")),
            "bad.safetensors", "bad.tensor", "shape");

    [Fact]
    public void ShapeMissing() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"data_offsets\":[8,16]}")),
            "bad.safetensors", "bad.tensor", "shape is missing");

    [Fact]
    public void ShapeElementCountOverflows() =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,8],\"data_offsets\":[8,16]}")),
            "bad.safetensors", "bad.tensor", "too many elements");

    [Theory]
    [InlineData("[8]")]
    [InlineData("[8,16,24]")]
    [InlineData("[]")]
    [InlineData("8")]
    [InlineData("[8,\"16\"]")]
    [InlineData("[-8,16]")]
    public void DataOffsetsMalformed(string offsets) =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry($"{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{offsets}}}")),
            "bad.safetensors", "bad.tensor", "data_offsets");

    [Fact]
    public void DataOffsetsMissing() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"shape\":[2]}")),
            "bad.safetensors", "bad.tensor", "data_offsets is missing");

    [Fact]
    public void DataOffsetsEndBeforeBegin() =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,8]}")),
            "bad.safetensors", "bad.tensor", "end is before begin");

    [Fact]
    public void DataOffsetsOutOfRange() =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[60,68]}", dataBytes: 64)),
            "bad.safetensors", "bad.tensor", "past the end of the data");

    [Fact]
    public void DataOffsetsHuge() =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775807]}")),
            "bad.safetensors", "bad.tensor", "past the end of the data");

    [Fact]
    public void DataOffsetsOverlapAnotherTensor() =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}")),
            "bad.safetensors", "bad.tensor", "overlap tensor 'good.weight'");

    [Theory]
    [InlineData("[3]", "[8,16]")]
    [InlineData("[2]", "[8,20]")]
    [InlineData("[]", "[8,16]")]
    [InlineData("[0]", "[8,12]")]
    public void SizeDoesNotMatchShape(string shape, string offsets) =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry($"{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":{offsets}}}")),
            "bad.safetensors", "bad.tensor", "needs");

    [Theory]
    [InlineData("Q4")]
    [InlineData("f32")]
    [InlineData("")]
    [InlineData("F4")]
    public void UnknownDtype(string dtype) =>
        Fixtures.AssertCheckpointError(
            () => Checkpoint.Open(WithEntry($"{{\"dtype\":\"{dtype}\",\"shape\":[2],\"data_offsets\":[8,16]}}")),
            "bad.safetensors", "bad.tensor", "unsupported dtype");

    [Theory]
    [InlineData("{\"shape\":[2],\"data_offsets\":[8,16]}")]
    [InlineData("{\"dtype\":4,\"shape\":[2],\"data_offsets\":[8,16]}")]
    [InlineData("[\"F32\"]")]
    [InlineData("\"F32\"")]
    public void EntryMalformed(string entry) =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(WithEntry(entry)), "bad.safetensors", "bad.tensor");

    [Theory]
    [InlineData(torch.ScalarType.Int8, "I8")]
    [InlineData(torch.ScalarType.Float64, "F64")]
    [InlineData(torch.ScalarType.Int64, "I64")]
    public void UnsupportedDtype_FailsOnLoadNamingTensor(torch.ScalarType type, string spelling)
    {
        string path = dir.File("ints.safetensors");
        using var t = torch.ones([3], type);
        using var ok = Fixtures.Values([2], torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("odd.tensor", t), new("ok", ok)]);
        using var source = Checkpoint.Open(path);
        Assert.Equal(spelling, source.Tensors["odd.tensor"].DType);
        Fixtures.AssertCheckpointError(() => source.Load("odd.tensor", torch.ScalarType.Float32, torch.CPU),
            path, "odd.tensor", "unsupported dtype");
        using var loaded = source.Load("ok", torch.ScalarType.Float32, torch.CPU);
        Fixtures.AssertExact(ok, loaded);
    }

    [Fact]
    public void DuplicateTensorName() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(Raw(Good + "," + Good[1..] + "}")),
            "bad.safetensors", "good.weight", "twice");

    [Theory]
    [InlineData("{\"__metadata__\":[1]}")]
    [InlineData("{\"__metadata__\":{\"format\":1}}")]
    [InlineData("{\"__metadata__\":\"pt\"}")]
    public void MetadataMalformed(string header) =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(Raw(header)), "bad.safetensors", says: "__metadata__");

    [Fact]
    public void EmptyHeaderObject_IsAValidEmptyCheckpoint()
    {
        using var source = Checkpoint.Open(Raw("{}", dataBytes: 0));
        Assert.Empty(source.Tensors);
    }

    [Fact]
    public void ZeroLengthHeader() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(Raw("")), "bad.safetensors", says: "invalid header JSON");
}
