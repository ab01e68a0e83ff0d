using System.Collections;
using System.Numerics;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>A <c>torch.FloatStorage</c>-style class named in a pickle: which dtype a storage's bytes hold.</summary>
internal sealed class StorageType(string torchName, string dtype, int elementSize) : IObjectConstructor
{
    /// <summary>The class name, e.g. <c>HalfStorage</c>.</summary>
    public string TorchName { get; } = torchName;

    /// <summary>The safetensors spelling of the element type.</summary>
    public string DType { get; } = dtype;

    /// <summary>Bytes per element.</summary>
    public int ElementSize { get; } = elementSize;

    /// <summary>torch.save only names storage classes inside persistent ids; it never calls them.</summary>
    public object construct(object[] args) =>
        throw new PickleException($"torch.{TorchName} is called in the pickle; torch.save never does that");
}

/// <summary>A persistent id of torch.save: the archive entry <c>data/&lt;Key&gt;</c> holds the storage's bytes.</summary>
internal sealed record StorageRef(string Key, StorageType Type, long NumElements);

/// <summary>What <c>torch._utils._rebuild_tensor_v2</c> would build: a view into a storage, not yet read.</summary>
internal sealed record PickledTensor(StorageRef Storage, long StorageOffset, long[] Shape, long[] Stride);

/// <summary>
/// The unpickler for a torch.save <c>data.pkl</c>, built on Razorvine.Pickle. Tensors come back as
/// <see cref="PickledTensor"/> descriptors; no tensor data is read while unpickling.
/// </summary>
/// <remarks>
/// Razorvine.Pickle keeps its class constructors in one process-wide table, so the torch classes are registered under
/// a lock for the duration of each unpickle and the previous entries restored afterwards. Another library that
/// registers constructors for the same torch names and unpickles on another thread at the same moment
/// (TorchSharp.PyBridge's <c>load_py</c>, for one) is not supported.
/// </remarks>
internal sealed class TorchUnpickler : Unpickler
{
    private static readonly Lock RegistryLock = new();

    private static readonly StorageType[] StorageTypes =
    [
        new("FloatStorage", "F32", 4), new("HalfStorage", "F16", 2), new("BFloat16Storage", "BF16", 2),
        new("DoubleStorage", "F64", 8), new("LongStorage", "I64", 8), new("IntStorage", "I32", 4),
        new("ShortStorage", "I16", 2), new("CharStorage", "I8", 1), new("ByteStorage", "U8", 1),
        new("BoolStorage", "BOOL", 1),
    ];

    private static readonly RebuildTensor TensorConstructor = new();
    private static readonly RebuildParameter ParameterConstructor = new();
    private static readonly OrderedDictConstructor DictConstructor = new();

    private TorchUnpickler()
    {
    }

    /// <summary>Unpickles <paramref name="pickle"/> (the bytes of <c>data.pkl</c>).</summary>
    /// <exception cref="PickleException">And any other exception of malformed input: the caller wraps them all.</exception>
    public static object? Unpickle(byte[] pickle)
    {
        lock (RegistryLock)
        {
            var previous = Register();
            try
            {
                using var unpickler = new TorchUnpickler();
                return unpickler.loads(pickle);
            }
            finally
            {
                Restore(previous);
            }
        }
    }

    private static IEnumerable<(string Key, IObjectConstructor Constructor)> Ours() =>
        new (string, IObjectConstructor)[]
        {
            ("torch._utils._rebuild_tensor", TensorConstructor),
            ("torch._utils._rebuild_tensor_v2", TensorConstructor),
            ("torch._utils._rebuild_parameter", ParameterConstructor),
            ("collections.OrderedDict", DictConstructor),
        }.Concat(StorageTypes.Select(t => ("torch." + t.TorchName, (IObjectConstructor)t)));

    // Ours replace whatever is registered for the torch names only while we unpickle, and the previous entries are put
    // back afterwards, so a library that registered its own (TorchSharp.PyBridge's load_py) keeps working.
    private static List<(string Key, IObjectConstructor? Previous)> Register()
    {
        var previous = new List<(string, IObjectConstructor?)>();
        foreach (var (key, constructor) in Ours())
        {
            previous.Add((key, objectConstructors.TryGetValue(key, out var old) ? old : null));
            objectConstructors[key] = constructor;
        }
        return previous;
    }

    private static void Restore(List<(string Key, IObjectConstructor? Previous)> previous)
    {
        foreach (var (key, old) in previous)
        {
            if (old is null) objectConstructors.Remove(key);
            else objectConstructors[key] = old;
        }
    }

    /// <summary>torch.save's persistent id: <c>("storage", storage_type, key, location, numel)</c>.</summary>
    protected override object persistentLoad(object pid)
    {
        if (pid is not object[] { Length: 5 } id || id[0] is not "storage")
            throw new PickleException("persistent id is not a torch.save storage reference");
        var type = id[1] switch
        {
            StorageType known => known,
            ClassDictConstructor other => throw new PickleException($"unsupported storage type {other.module}.{other.name}"),
            _ => throw new PickleException("storage type is not a class"),
        };
        if (id[2] is not string key) throw new PickleException("storage key is not a string");
        long numel = Int(id[4], "storage size");
        if (numel < 0) throw new PickleException("storage size is negative");
        return new StorageRef(key, type, numel);
    }

    /// <summary>A pickled int as a long: pickle writes small ints as int, large ones as long or big integers.</summary>
    internal static long Int(object? value, string what) => value switch
    {
        int i => i,
        long l => l,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => throw new PickleException($"{what} is not an integer"),
    };

    private static long[] Ints(object? value, string what) =>
        value is object[] tuple ? tuple.Select(v => Int(v, what)).ToArray() : throw new PickleException($"{what} is not a tuple");

    /// <summary>
    /// <c>_rebuild_tensor(storage, storage_offset, size, stride)</c> and <c>_rebuild_tensor_v2</c> (which adds
    /// requires_grad, backward_hooks and optionally metadata, all irrelevant to the values).
    /// </summary>
    private sealed class RebuildTensor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length < 4 || args[0] is not StorageRef storage)
                throw new PickleException("_rebuild_tensor: expected (storage, storage_offset, size, stride, ...)");
            return new PickledTensor(storage, Int(args[1], "storage_offset"), Ints(args[2], "size"), Ints(args[3], "stride"));
        }
    }

    /// <summary><c>_rebuild_parameter(data, requires_grad, backward_hooks)</c>: a parameter's values are its data's.</summary>
    private sealed class RebuildParameter : IObjectConstructor
    {
        public object construct(object[] args) =>
            args.Length >= 1 && args[0] is PickledTensor tensor ? tensor : throw new PickleException("_rebuild_parameter: expected a tensor");
    }

    /// <summary>
    /// <c>collections.OrderedDict(items)</c>. Order does not matter for a state dict, so a Hashtable (what the
    /// unpickler's SETITEMS expects) serves; <c>__setstate__</c> receives the state dict's <c>_metadata</c>, which
    /// carries no tensors and is dropped.
    /// </summary>
    private sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            var dict = new PickledDict();
            if (args.Length > 0 && args[0] is IEnumerable items)
            {
                foreach (object? item in items)
                {
                    if (item is not object[] { Length: 2 } pair || pair[0] is null)
                        throw new PickleException("OrderedDict: expected (key, value) pairs");
                    dict[pair[0]] = pair[1];
                }
            }
            return dict;
        }
    }
}

/// <summary>An unpickled <c>OrderedDict</c>.</summary>
internal sealed class PickledDict : Hashtable
{
    /// <summary>Called by the unpickler's BUILD opcode with the instance attributes; a state dict's are metadata only.</summary>
    public void __setstate__(Hashtable state)
    {
    }
}
