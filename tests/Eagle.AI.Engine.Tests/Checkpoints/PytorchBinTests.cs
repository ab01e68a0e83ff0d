using System.IO.Compression;
using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>
/// torch.save archives. The main fixtures are written by TorchSharp.PyBridge's PyTorch-format pickler (top folder
/// <c>model/</c>, a plain dict, deflated entries); <see cref="TorchSaveFixture"/> covers what PyBridge cannot write
/// (an OrderedDict root, shared storages with offsets, strides, byteorder, stored entries).
/// </summary>
public sealed class PytorchBinTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private static Dictionary<string, torch.Tensor> MixedStateDict() => new()
    {
        ["model.embed_tokens.weight"] = Fixtures.Values([5, 3], torch.ScalarType.Float32),
        ["model.layers.0.mlp.up_proj.weight"] = Fixtures.Values([4, 3], torch.ScalarType.Float16, 1),
        ["model.norm.weight"] = Fixtures.Values([3], torch.ScalarType.BFloat16, 2),
        ["lm_head.bias"] = Fixtures.Values([], torch.ScalarType.Float32, 3),
    };

    [Fact]
    public void PyBridgeStateDict_F32_F16_BF16_LoadsExact()
    {
        string path = dir.File("pytorch_model.bin");
        var tensors = MixedStateDict();
        try
        {
            PyTorchPickler.PickleStateDict(path, tensors);
            using var source = Checkpoint.Open(path);
            Assert.Equal(path, source.Path);
            Assert.Equal(tensors.Keys.Order(), source.Tensors.Keys.Order());
            Assert.Equal("F32", source.Tensors["model.embed_tokens.weight"].DType);
            Assert.Equal("F16", source.Tensors["model.layers.0.mlp.up_proj.weight"].DType);
            Assert.Equal("BF16", source.Tensors["model.norm.weight"].DType);
            Assert.Empty(source.Tensors["lm_head.bias"].Shape);
            foreach (var (name, expected) in tensors)
            {
                Assert.Equal(expected.shape, source.Tensors[name].Shape);
                Assert.Equal(path, source.Tensors[name].File);
                using var loaded = source.Load(name, expected.dtype, torch.CPU);
                Fixtures.AssertExact(expected, loaded);
            }
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void PyBridgeStateDict_ConvertsOnLoad()
    {
        string path = dir.File("weights.bin");
        var tensors = MixedStateDict();
        try
        {
            PyTorchPickler.PickleStateDict(path, tensors);
            using var source = Checkpoint.Open(path);
            foreach (var (name, original) in tensors)
            {
                using var loaded = source.Load(name, torch.ScalarType.Float32, torch.CPU);
                using var expected = original.to(torch.ScalarType.Float32);
                Fixtures.AssertExact(expected, loaded);
            }
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void PyBridgeSavePy_Module_RoundTripsThroughStateDictLoader()
    {
        string path = dir.File("pytorch_model.bin");
        torch.manual_seed(7);
        using var saved = new TinyModel();
        saved.save_py(path);
        using var fresh = new TinyModel();
        using var source = Checkpoint.Open(dir.Path);
        Assert.IsType<PytorchBinFile>(source);
        StateDictLoader.Load(fresh, source);
        var expected = saved.state_dict();
        foreach (var (name, tensor) in fresh.state_dict())
            Fixtures.AssertExact(expected[name], tensor);
    }

    [Fact]
    public void ShardedBinIndex_LoadsFromEveryShard()
    {
        var tensors = MixedStateDict();
        try
        {
            var names = tensors.Keys.Order().ToArray();
            var first = names.Take(2).ToDictionary(n => n, n => tensors[n]);
            var second = names.Skip(2).ToDictionary(n => n, n => tensors[n]);
            PyTorchPickler.PickleStateDict(dir.File("pytorch_model-00001-of-00002.bin"), first);
            PyTorchPickler.PickleStateDict(dir.File("pytorch_model-00002-of-00002.bin"), second);
            var index = new
            {
                metadata = new { total_size = 1 },
                weight_map = names.ToDictionary(n => n, n => first.ContainsKey(n)
                    ? "pytorch_model-00001-of-00002.bin" : "pytorch_model-00002-of-00002.bin"),
            };
            File.WriteAllText(dir.File("pytorch_model.bin.index.json"), JsonSerializer.Serialize(index));

            using var source = Checkpoint.Open(dir.Path);
            Assert.Equal(dir.File("pytorch_model.bin.index.json"), source.Path);
            Assert.Equal(4, source.Tensors.Count);
            foreach (var (name, expected) in tensors)
            {
                Assert.Equal(first.ContainsKey(name) ? dir.File("pytorch_model-00001-of-00002.bin") : dir.File("pytorch_model-00002-of-00002.bin"),
                    source.Tensors[name].File);
                using var loaded = source.Load(name, expected.dtype, torch.CPU);
                Fixtures.AssertExact(expected, loaded);
            }
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void TorchLayout_OrderedDictSharedStorageOffsetsAndStoredEntries_LoadExact()
    {
        string path = dir.File("pytorch_model.bin");
        using var whole = Fixtures.Values([10, 3], torch.ScalarType.Float16);
        using var q = Fixtures.Values([2, 2], torch.ScalarType.BFloat16, 4);
        var shared = TorchSaveFixture.StorageOf("0", whole);
        var own = TorchSaveFixture.StorageOf("1", q);
        // Two views of one storage, as torch.save writes tied or sliced tensors: rows 2..5 and the whole of it.
        TorchSaveFixture.Write(path,
        [
            new("rows", new(shared, 6, [4, 3], [3, 1])),
            new("all", new(shared, 0, [10, 3], [3, 1])),
            new("column", new(shared, 5, [1, 1], [7, 99])),
            new("q", new(own, 0, [2, 2], [2, 1])),
        ]);
        using var source = Checkpoint.Open(path);
        using (var rows = source.Load("rows", torch.ScalarType.Float16, torch.CPU))
        using (var expected = whole.narrow(0, 2, 4))
            Fixtures.AssertExact(expected, rows);
        using (var all = source.Load("all", torch.ScalarType.Float16, torch.CPU))
            Fixtures.AssertExact(whole, all);
        using (var column = source.Load("column", torch.ScalarType.Float32, torch.CPU))
            Assert.Equal(whole[1, 2].to(torch.ScalarType.Float32).item<float>(), column[0, 0].item<float>());
        using (var lq = source.Load("q", torch.ScalarType.BFloat16, torch.CPU))
            Fixtures.AssertExact(q, lq);
    }

    [Fact]
    public void TorchLayout_WithoutByteOrderRecord_IsLittleEndian()
    {
        string path = dir.File("old.bin");
        using var t = Fixtures.Values([3], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path, [new("t", new(TorchSaveFixture.StorageOf("0", t), 0, [3], [1]))], byteOrder: null);
        using var source = Checkpoint.Open(path);
        using var loaded = source.Load("t", torch.ScalarType.Float32, torch.CPU);
        Fixtures.AssertExact(t, loaded);
    }

    [Fact]
    public void NonContiguousTensor_IsRejectedNamingIt()
    {
        string path = dir.File("strided.bin");
        using var t = Fixtures.Values([2, 3], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path, [new("transposed.weight", new(TorchSaveFixture.StorageOf("0", t), 0, [3, 2], [1, 3]))]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, "transposed.weight", "non-contiguous");
    }

    [Fact]
    public void BigEndianByteOrder_IsRejected()
    {
        string path = dir.File("be.bin");
        using var t = Fixtures.Values([3], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path, [new("t", new(TorchSaveFixture.StorageOf("0", t), 0, [3], [1]))], byteOrder: "big");
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "byte order 'big'");
    }

    [Fact]
    public void MissingStorageEntry_NamesTensor()
    {
        string path = dir.File("nostorage.bin");
        using var t = Fixtures.Values([3], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path, [new("lost.weight", new(TorchSaveFixture.StorageOf("7", t), 0, [3], [1]))], skipStorage: "7");
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, "lost.weight", "archive/data/7");
    }

    [Fact]
    public void TruncatedStorageEntry_NamesTensor()
    {
        string path = dir.File("short.bin");
        using var t = Fixtures.Values([8], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path, [new("short.weight", new(TorchSaveFixture.StorageOf("0", t), 0, [8], [1]))], truncateStorage: "0");
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, "short.weight", "truncated");
    }

    [Fact]
    public void ViewOutsideItsStorage_NamesTensor()
    {
        string path = dir.File("outside.bin");
        using var t = Fixtures.Values([4], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path, [new("far.weight", new(TorchSaveFixture.StorageOf("0", t), 2, [4], [1]))]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, "far.weight", "outside storage");
    }

    [Fact]
    public void UnsupportedStorageType_FailsOnLoadNamingTensor()
    {
        string path = dir.File("long.bin");
        using var ids = torch.tensor(new long[] { 1, 2, 3 });
        using var w = Fixtures.Values([2], torch.ScalarType.Float32);
        TorchSaveFixture.Write(path,
        [
            new("position_ids", new(TorchSaveFixture.StorageOf("0", ids), 0, [3], [1])),
            new("w", new(TorchSaveFixture.StorageOf("1", w), 0, [2], [1])),
        ]);
        using var source = Checkpoint.Open(path);
        Assert.Equal("I64", source.Tensors["position_ids"].DType);
        Fixtures.AssertCheckpointError(() => source.Load("position_ids", torch.ScalarType.Float32, torch.CPU),
            path, "position_ids", "unsupported dtype");
        using var loaded = source.Load("w", torch.ScalarType.Float32, torch.CPU);
        Fixtures.AssertExact(w, loaded);
    }

    [Fact]
    public void NotAZipArchive()
    {
        string path = dir.File("pytorch_model.bin");
        File.WriteAllBytes(path, [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 7))]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "not a torch.save zip archive");
    }

    [Fact]
    public void TruncatedArchive()
    {
        string path = dir.File("cut.bin");
        var tensors = MixedStateDict();
        try
        {
            PyTorchPickler.PickleStateDict(path, tensors);
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path);
    }

    [Fact]
    public void ArchiveWithoutDataPkl()
    {
        string path = dir.File("nopkl.bin");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("archive/version").Open())
            s.Write("3\n"u8);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path, says: "data.pkl");
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x02, 0xFF })]
    [InlineData(new byte[] { 0x80, 0x02, 0x7D })]
    [InlineData(new byte[] { 0x80, 0x02, 0x4B, 0x05, 0x2E })]
    [InlineData(new byte[] { 0x80, 0x02, 0x5D, 0x71, 0x00, 0x2E })]
    [InlineData(new byte[] { })]
    public void BadPickle(byte[] pickle)
    {
        // Garbage opcodes, a pickle that stops early, an int and a list where a state dict belongs, and nothing.
        string path = dir.File("badpickle.bin");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("archive/data.pkl").Open())
            s.Write(pickle);
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(path), path);
    }

    [Fact]
    public void MissingFile() =>
        Fixtures.AssertCheckpointError(() => Checkpoint.Open(dir.File("absent.bin")), "absent.bin", says: "not found");

    private sealed class TinyModel : torch.nn.Module
    {
        private readonly TorchSharp.Modules.Linear proj = torch.nn.Linear(3, 4);
        private readonly TorchSharp.Modules.LayerNorm norm = torch.nn.LayerNorm(4);

        public TinyModel() : base(nameof(TinyModel)) => RegisterComponents();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                proj.Dispose();
                norm.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
