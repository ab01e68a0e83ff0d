using Eagle.AI.Engine.Runtime;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;

namespace Eagle.AI.Engine.Tests.Checkpoints;

public class SafetensorsRoundTripTests
{
    public static TheoryData<torch.ScalarType> FloatTypes => new(Fixtures.FloatTypes);

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void SingleFile_RoundTrip_IsExact(torch.ScalarType dtype)
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        var tensors = Fixtures.Small(dtype);
        try
        {
            SafetensorsWriter.Write(path, tensors);
            using var source = Checkpoint.Open(path);
            Assert.Equal(path, source.Path);
            Assert.Equal(tensors.Keys.Order(), source.Tensors.Keys.Order());
            foreach (var (name, expected) in tensors)
            {
                var info = source.Tensors[name];
                Assert.Equal(name, info.Name);
                Assert.Equal(path, info.File);
                Assert.Equal(expected.shape, info.Shape);
                Assert.Equal(dtype == torch.ScalarType.Float32 ? "F32" : dtype == torch.ScalarType.Float16 ? "F16" : "BF16", info.DType);
                using var loaded = source.Load(name, dtype, torch.CPU);
                Fixtures.AssertExact(expected, loaded);
            }
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void Sharded_RoundTrip_IsExact(torch.ScalarType dtype)
    {
        using var dir = new TempDir();
        var tensors = new Dictionary<string, torch.Tensor>();
        for (int i = 0; i < 5; i++) tensors[$"model.layers.{i}.weight"] = Fixtures.Values([4, 8], dtype, i);
        try
        {
            long perTensor = 4 * 8 * (dtype == torch.ScalarType.Float32 ? 4 : 2);
            SafetensorsWriter.WriteSharded(dir.Path, tensors, maxShardBytes: 2 * perTensor);

            string index = dir.File("model.safetensors.index.json");
            using (var doc = JsonDocument.Parse(File.ReadAllBytes(index)))
            {
                Assert.Equal(5 * perTensor, doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
                var map = doc.RootElement.GetProperty("weight_map");
                Assert.Equal("model-00001-of-00003.safetensors", map.GetProperty("model.layers.0.weight").GetString());
                Assert.Equal("model-00001-of-00003.safetensors", map.GetProperty("model.layers.1.weight").GetString());
                Assert.Equal("model-00002-of-00003.safetensors", map.GetProperty("model.layers.2.weight").GetString());
                Assert.Equal("model-00003-of-00003.safetensors", map.GetProperty("model.layers.4.weight").GetString());
            }
            Assert.Equal(3, Directory.GetFiles(dir.Path, "model-*-of-00003.safetensors").Length);

            using var source = Checkpoint.Open(dir.Path);
            Assert.Equal(index, source.Path);
            Assert.Equal(5, source.Tensors.Count);
            Assert.EndsWith("model-00002-of-00003.safetensors", source.Tensors["model.layers.3.weight"].File, StringComparison.Ordinal);
            foreach (var (name, expected) in tensors)
            {
                using var loaded = source.Load(name, dtype, torch.CPU);
                Fixtures.AssertExact(expected, loaded);
            }
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void Sharded_TensorLargerThanLimit_GetsItsOwnShard()
    {
        using var dir = new TempDir();
        using var big = Fixtures.Values([64], torch.ScalarType.Float32);
        using var small = Fixtures.Values([2], torch.ScalarType.Float32);
        SafetensorsWriter.WriteSharded(dir.Path, [new("small", small), new("big", big), new("small2", small)], maxShardBytes: 16);
        using var source = Checkpoint.Open(dir.Path);
        Assert.Equal(3, source.Tensors.Select(t => t.Value.File).Distinct().Count());
        using var loaded = source.Load("big", torch.ScalarType.Float32, torch.CPU);
        Fixtures.AssertExact(big, loaded);
    }

    [Theory]
    [InlineData(torch.ScalarType.Float16, torch.ScalarType.Float32)]
    [InlineData(torch.ScalarType.BFloat16, torch.ScalarType.Float32)]
    [InlineData(torch.ScalarType.Float32, torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.Float32, torch.ScalarType.BFloat16)]
    [InlineData(torch.ScalarType.BFloat16, torch.ScalarType.Float16)]
    public void Load_ConvertsToRequestedDtype(torch.ScalarType stored, torch.ScalarType requested)
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var original = Fixtures.Values([6, 5], stored);
        SafetensorsWriter.Write(path, [new("w", original)]);
        using var source = Checkpoint.Open(path);
        using var loaded = source.Load("w", requested, torch.CPU);
        using var expected = original.to(requested);
        Fixtures.AssertExact(expected, loaded);
    }

    [Fact]
    public void MixedDtypes_AreWrittenAlignedAndSortedBySizeThenName()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var h = Fixtures.Values([3], torch.ScalarType.Float16);
        using var f = Fixtures.Values([3], torch.ScalarType.Float32);
        using var b = Fixtures.Values([1], torch.ScalarType.BFloat16);
        using var l = torch.tensor(new long[] { 7, -7 });
        SafetensorsWriter.Write(path, [new("h", h), new("f", f), new("b", b), new("l", l)]);

        var header = SafetensorsHeader.Read(path);
        Assert.Equal(0, header.DataStart % 8);
        var order = header.Entries.Values.OrderBy(e => e.Begin).Select(e => e.Name).ToArray();
        Assert.Equal(["l", "f", "b", "h"], order);
        Assert.All(header.Entries.Values, e => Assert.Equal(0, (header.DataStart + e.Begin) % e.ElementSize));

        using var source = Checkpoint.Open(path);
        using (var lh = source.Load("h", torch.ScalarType.Float16, torch.CPU)) Fixtures.AssertExact(h, lh);
        using (var lf = source.Load("f", torch.ScalarType.Float32, torch.CPU)) Fixtures.AssertExact(f, lf);
        using (var lb = source.Load("b", torch.ScalarType.BFloat16, torch.CPU)) Fixtures.AssertExact(b, lb);
    }

    [Fact]
    public void Writer_IsDeterministic_AndPadsHeaderWithSpaces()
    {
        using var dir = new TempDir();
        var tensors = Fixtures.Small(torch.ScalarType.Float16);
        try
        {
            SafetensorsWriter.Write(dir.File("a.safetensors"), tensors);
            SafetensorsWriter.Write(dir.File("b.safetensors"), tensors.Reverse());
            byte[] a = File.ReadAllBytes(dir.File("a.safetensors"));
            Assert.Equal(a, File.ReadAllBytes(dir.File("b.safetensors")));

            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(a);
            Assert.Equal(0, (8 + n) % 8);
            string json = Encoding.UTF8.GetString(a, 8, (int)n);
            string trimmed = json.TrimEnd(' ');
            Assert.EndsWith("}", trimmed, StringComparison.Ordinal);
            Assert.InRange(json.Length - trimmed.Length, 0, 7);
            Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void Metadata_RoundTrips()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var t = Fixtures.Values([2], torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("t", t)], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" });
        using var source = new SafetensorsFile(path);
        Assert.Equal("pt", source.Metadata["format"]);
        Assert.Equal("ünïcode", source.Metadata["note"]);
        Assert.DoesNotContain("__metadata__", source.Tensors.Keys);
    }

    [Fact]
    public void Writer_AcceptsStridedAndGradTensors()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var m = Fixtures.Values([3, 4], torch.ScalarType.Float32);
        using var transposed = m.t();
        using var p = new TorchSharp.Modules.Parameter(Fixtures.Values([2, 2], torch.ScalarType.Float32));
        SafetensorsWriter.Write(path, [new("t", transposed), new("p", p)]);
        using var source = Checkpoint.Open(path);
        using var lt = source.Load("t", torch.ScalarType.Float32, torch.CPU);
        using var expected = transposed.contiguous();
        Fixtures.AssertExact(expected, lt);
        using var lp = source.Load("p", torch.ScalarType.Float32, torch.CPU);
        Assert.False(lp.requires_grad);
        Fixtures.AssertExact(p, lp);
    }

    [Fact]
    public void Writer_RejectsDuplicateAndReservedNames()
    {
        using var dir = new TempDir();
        using var t = Fixtures.Values([2], torch.ScalarType.Float32);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("a.safetensors"), [new("x", t), new("x", t)]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("b.safetensors"), [new("__metadata__", t)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => SafetensorsWriter.WriteSharded(dir.Path, [new("x", t)], 0));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void ZeroElementTensor_RoundTrips()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var empty = torch.empty([0, 4], torch.ScalarType.Float16);
        using var after = Fixtures.Values([2], torch.ScalarType.Float16);
        SafetensorsWriter.Write(path, [new("empty", empty), new("after", after)]);
        using var source = Checkpoint.Open(path);
        Assert.Equal([0L, 4L], source.Tensors["empty"].Shape);
        using var loaded = source.Load("empty", torch.ScalarType.Float32, torch.CPU);
        Assert.Equal([0L, 4L], loaded.shape);
        Assert.Equal(torch.ScalarType.Float32, loaded.dtype);
        using var la = source.Load("after", torch.ScalarType.Float16, torch.CPU);
        Fixtures.AssertExact(after, la);
    }

    [Fact]
    public void UnalignedOffsets_AreReadInsteadOfMapped()
    {
        using var dir = new TempDir();
        string path = dir.File("odd.safetensors");
        using var f = Fixtures.Values([2, 3], torch.ScalarType.Float32);
        using var h = Fixtures.Values([3], torch.ScalarType.Float16, 1);
        byte[] fb = Fixtures.Bytes(f), hb = Fixtures.Bytes(h);
        // One byte of slack before each tensor, and a header whose length is not a multiple of 8: nothing is aligned.
        byte[] data = [0, .. fb, 0, .. hb];
        string header = "{\"f\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[1,25]}," +
                        "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[26,32]}}";
        Fixtures.WriteRaw(path, header, data);
        var parsed = SafetensorsHeader.Read(path);
        Assert.NotEqual(0, (parsed.DataStart + 1) % 4);

        using var source = Checkpoint.Open(path);
        using (var lf = source.Load("f", torch.ScalarType.Float32, torch.CPU)) Fixtures.AssertExact(f, lf);
        using (var lh = source.Load("h", torch.ScalarType.Float16, torch.CPU)) Fixtures.AssertExact(h, lh);
        using var converted = source.Load("h", torch.ScalarType.Float32, torch.CPU);
        using var expected = h.to(torch.ScalarType.Float32);
        Fixtures.AssertExact(expected, converted);
    }

    [Fact]
    public void LoadedTensors_OutliveTheSource()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var original = Fixtures.Values([16, 16], torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("w", original)]);
        torch.Tensor same, converted;
        using (var source = Checkpoint.Open(path))
        {
            same = source.Load("w", torch.ScalarType.Float32, torch.CPU);
            converted = source.Load("w", torch.ScalarType.Float16, torch.CPU);
        }
        // The mapping is gone and the file is replaced: the loaded tensors must own their bytes.
        using var other = Fixtures.Values([1], torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("x", other)]);
        using (same)
        using (converted)
        {
            Fixtures.AssertExact(original, same);
            same.add_(HeldScalars.One, HeldScalars.One);
            using var expected = original.to(torch.ScalarType.Float16);
            Fixtures.AssertExact(expected, converted);
        }
    }

    [Fact]
    public void Load_ReturnsIndependentCopies()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var original = Fixtures.Values([4], torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("w", original)]);
        using var source = Checkpoint.Open(path);
        using var first = source.Load("w", torch.ScalarType.Float32, torch.CPU);
        first.zero_();
        using var second = source.Load("w", torch.ScalarType.Float32, torch.CPU);
        Fixtures.AssertExact(original, second);
    }

    [Fact]
    public void Load_UnknownName_NamesFileAndTensor()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        using var t = Fixtures.Values([2], torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("t", t)]);
        using var source = Checkpoint.Open(path);
        Fixtures.AssertCheckpointError(() => source.Load("nope", torch.ScalarType.Float32, torch.CPU), path, "nope");
    }
}
