using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>Safetensors dtype spellings, their element sizes, and which of them this engine can load.</summary>
internal static class DTypes
{
    /// <summary>The dtypes <see cref="ITensorSource.Load"/> converts; everything else is listed but rejected.</summary>
    public const string Supported = "F32, F16, BF16";

    // Every fixed-size dtype the safetensors format defines. Sizes are needed to validate offsets even for dtypes we do
    // not load, so a checkpoint holding, say, an I64 buffer can still be opened and that buffer ignored.
    private static readonly Dictionary<string, int> Sizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    /// <summary>The element size of a known dtype, or null for a spelling the format does not define.</summary>
    public static int? ElementSize(string dtype) => Sizes.TryGetValue(dtype, out int size) ? size : null;

    /// <summary>The torch type a loadable dtype is stored as, or null when it cannot be loaded.</summary>
    public static torch.ScalarType? Loadable(string dtype) => dtype switch
    {
        "F32" => torch.ScalarType.Float32,
        "F16" => torch.ScalarType.Float16,
        "BF16" => torch.ScalarType.BFloat16,
        _ => null,
    };

    /// <summary>The safetensors spelling the writer uses for a torch type, or null when it has none.</summary>
    public static string? Spelling(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float32 => "F32",
        torch.ScalarType.Float16 => "F16",
        torch.ScalarType.BFloat16 => "BF16",
        torch.ScalarType.Float64 => "F64",
        torch.ScalarType.Int64 => "I64",
        torch.ScalarType.Int32 => "I32",
        torch.ScalarType.Int16 => "I16",
        torch.ScalarType.Int8 => "I8",
        torch.ScalarType.Byte => "U8",
        torch.ScalarType.Bool => "BOOL",
        _ => null,
    };

    /// <summary>The number of elements of <paramref name="shape"/>, or null on overflow or a negative size.</summary>
    public static long? NumElements(long[] shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            if (d < 0) return null;
            try
            {
                n = checked(n * d);
            }
            catch (OverflowException)
            {
                return null;
            }
        }
        return n;
    }
}
