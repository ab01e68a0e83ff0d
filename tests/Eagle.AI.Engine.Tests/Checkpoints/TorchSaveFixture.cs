using System.Collections;
using System.IO.Compression;
using System.Text;
using Razorvine.Pickle;
using TorchSharp;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>
/// Writes torch.save-format archives with Razorvine.Pickle's pickler and System.IO.Compression, for the layouts
/// TorchSharp.PyBridge cannot produce: an <c>OrderedDict</c> root, tensors sharing one storage at an offset,
/// non-contiguous strides, other storage types, uncompressed entries and a <c>byteorder</c> record, as recent PyTorch
/// writes them.
/// </summary>
internal static class TorchSaveFixture
{
    /// <summary>One storage: a dtype class name (<c>FloatStorage</c>) and its bytes.</summary>
    public sealed record Storage(string Key, string TorchClass, long NumElements, byte[] Bytes);

    /// <summary>A tensor entry of the state dict: a view of <paramref name="Storage"/>.</summary>
    public sealed record View(Storage Storage, long Offset, long[] Shape, long[] Stride);

    static TorchSaveFixture()
    {
        Pickler.registerCustomPickler(typeof(StorageClass), new StorageClassPickler());
        Pickler.registerCustomDeconstructor(typeof(View), new ViewDeconstructor());
        Pickler.registerCustomDeconstructor(typeof(OrderedDict), new OrderedDictDeconstructor());
    }

    public static Storage StorageOf(string key, torch.Tensor t)
    {
        string cls = t.dtype switch
        {
            torch.ScalarType.Float32 => "FloatStorage",
            torch.ScalarType.Float16 => "HalfStorage",
            torch.ScalarType.BFloat16 => "BFloat16Storage",
            torch.ScalarType.Int64 => "LongStorage",
            torch.ScalarType.Float64 => "DoubleStorage",
            _ => throw new ArgumentException($"no storage class for {t.dtype}"),
        };
        return new Storage(key, cls, t.numel(), Fixtures.Bytes(t));
    }

    /// <summary>Contiguous row-major strides of <paramref name="shape"/>.</summary>
    public static long[] Strides(long[] shape)
    {
        var stride = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = s;
            s *= shape[i];
        }
        return stride;
    }

    /// <summary>Writes <paramref name="tensors"/> as <c>folder/data.pkl</c> plus <c>folder/data/&lt;key&gt;</c>.</summary>
    /// <param name="path">The archive to create.</param>
    /// <param name="tensors">The state dict, pickled as a <c>collections.OrderedDict</c>.</param>
    /// <param name="folder">The archive's top folder (<c>archive</c> in recent PyTorch).</param>
    /// <param name="byteOrder">The <c>byteorder</c> record, or null to leave it out (PyTorch before 2.1).</param>
    /// <param name="skipStorage">A storage key whose data entry is left out.</param>
    /// <param name="truncateStorage">A storage key whose data entry is cut to half its length.</param>
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, View>> tensors, string folder = "archive",
        string? byteOrder = "little", string? skipStorage = null, string? truncateStorage = null)
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        void Entry(string name, byte[] bytes)
        {
            // torch.save stores entries uncompressed so they can be memory-mapped.
            using var s = zip.CreateEntry($"{folder}/{name}", CompressionLevel.NoCompression).Open();
            s.Write(bytes);
        }
        using (var pickler = new StoragePickler())
        {
            using var pkl = new MemoryStream();
            pickler.dump(new OrderedDict(tensors), pkl);
            Entry("data.pkl", pkl.ToArray());
        }
        if (byteOrder is not null) Entry("byteorder", Encoding.ASCII.GetBytes(byteOrder));
        foreach (var storage in tensors.Select(t => t.Value.Storage).DistinctBy(s => s.Key))
        {
            if (storage.Key == skipStorage) continue;
            byte[] bytes = storage.Key == truncateStorage ? storage.Bytes[..(storage.Bytes.Length / 2)] : storage.Bytes;
            Entry($"data/{storage.Key}", bytes);
        }
        Entry("version", Encoding.ASCII.GetBytes("3\n"));
    }

    private sealed class OrderedDict(IReadOnlyList<KeyValuePair<string, View>> items)
    {
        public IReadOnlyList<KeyValuePair<string, View>> Items { get; } = items;
    }

    private sealed class StorageClass(string name)
    {
        public string Name { get; } = name;
    }

    /// <summary>Pickles each storage as torch.save's persistent id <c>("storage", cls, key, "cpu", numel)</c>.</summary>
    private sealed class StoragePickler : Pickler
    {
        protected override bool persistentId(object pid, out object? newpid)
        {
            if (pid is Storage s)
            {
                newpid = new object[] { "storage", new StorageClass(s.TorchClass), s.Key, "cpu", s.NumElements };
                return true;
            }
            newpid = null;
            return false;
        }
    }

    private sealed class StorageClassPickler : IObjectPickler
    {
        public void pickle(object o, Stream outs, Pickler currentPickler)
        {
            outs.WriteByte(Opcodes.GLOBAL);
            byte[] name = Encoding.ASCII.GetBytes($"torch\n{((StorageClass)o).Name}\n");
            outs.Write(name, 0, name.Length);
        }
    }

    private sealed class ViewDeconstructor : IObjectDeconstructor
    {
        public string get_module() => "torch._utils";

        public string get_name() => "_rebuild_tensor_v2";

        public object[] deconstruct(object obj)
        {
            var v = (View)obj;
            return [v.Storage, v.Offset, v.Shape.Cast<object>().ToArray(), v.Stride.Cast<object>().ToArray(), false,
                new OrderedDict([])];
        }
    }

    private sealed class OrderedDictDeconstructor : IObjectDeconstructor
    {
        public string get_module() => "collections";

        public string get_name() => "OrderedDict";

        public object[] deconstruct(object obj) =>
            [new ArrayList(((OrderedDict)obj).Items.Select(i => (object)new object[] { i.Key, i.Value }).ToList())];
    }
}
