using System.Buffers.Binary;
using System.Text;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>Small tensors, raw safetensors files and comparisons shared by the checkpoint tests.</summary>
internal static class Fixtures
{
    public static readonly torch.ScalarType[] FloatTypes = [torch.ScalarType.Float32, torch.ScalarType.Float16, torch.ScalarType.BFloat16];

    /// <summary>Deterministic, non-trivial values (negative, fractional, different per element) of any float type.</summary>
    public static torch.Tensor Values(long[] shape, torch.ScalarType dtype, double start = 0)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        using var flat = torch.linspace(start - 3.25, start + 5.5, Math.Max(n, 1), dtype: torch.ScalarType.Float64);
        using var some = flat.narrow(0, 0, n);
        using var shaped = some.reshape(shape);
        return shaped.to(dtype);
    }

    /// <summary>Three tensors of one dtype: a matrix, a vector and a scalar.</summary>
    public static Dictionary<string, torch.Tensor> Small(torch.ScalarType dtype) => new()
    {
        ["model.layers.0.weight"] = Values([3, 4], dtype),
        ["model.norm.weight"] = Values([5], dtype, 10),
        ["scale"] = Values([], dtype, 20),
    };

    public static void DisposeAll(IEnumerable<torch.Tensor> tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }

    /// <summary>Bit-exact equality of dtype, shape and values.</summary>
    public static void AssertExact(torch.Tensor expected, torch.Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.contiguous();
        using var a = actual.contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), "values differ");
    }

    /// <summary>
    /// A safetensors file from a literal header and data section, for the malformed cases the writer never produces.
    /// The header is used exactly as given (no padding), so offsets can be made unaligned on purpose.
    /// </summary>
    public static void WriteRaw(string path, string headerJson, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        using var stream = File.Create(path);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        stream.Write(data);
    }

    /// <summary>The raw bytes of a contiguous CPU tensor.</summary>
    public static byte[] Bytes(torch.Tensor t)
    {
        using var c = t.contiguous();
        return c.bytes.ToArray();
    }

    /// <summary>Asserts that <paramref name="action"/> throws exactly a <see cref="CheckpointException"/> whose message
    /// names <paramref name="file"/> (by file name) and, when given, <paramref name="tensor"/>.</summary>
    public static CheckpointException AssertCheckpointError(Action action, string file, string? tensor = null, string? says = null)
    {
        var e = Assert.Throws<CheckpointException>(action);
        Assert.Contains(Path.GetFileName(file), e.Message, StringComparison.Ordinal);
        if (tensor is not null)
        {
            Assert.Contains(tensor, e.Message, StringComparison.Ordinal);
            Assert.Equal(tensor, e.Tensor);
        }
        if (says is not null) Assert.Contains(says, e.Message, StringComparison.Ordinal);
        return e;
    }

    /// <summary>Opens <paramref name="path"/> and loads every tensor as stored and as F32, disposing everything.</summary>
    public static void OpenAndLoadAll(string path)
    {
        using var source = Checkpoint.Open(path);
        foreach (var (name, info) in source.Tensors)
        {
            using (source.Load(name, torch.ScalarType.Float32, torch.CPU)) { }
            var stored = info.DType switch
            {
                "F16" => torch.ScalarType.Float16,
                "BF16" => torch.ScalarType.BFloat16,
                _ => torch.ScalarType.Float32,
            };
            using (source.Load(name, stored, torch.CPU)) { }
        }
    }
}
