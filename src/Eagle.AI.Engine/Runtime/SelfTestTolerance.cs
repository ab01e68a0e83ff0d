using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// The limits self-tests judge by, per compute dtype. Errors are relative to the largest magnitude of the reference
/// (max|actual − ref| ÷ max|ref|), so they do not depend on the scale of the values. A real bug (wrong mask, wrong
/// layout, wrong rotation) gives errors of order 1; these limits sit well above rounding noise: fp16 keeps 11
/// significant bits (≈ 5e-4 per rounding), bf16 8 (≈ 4e-3).
/// </summary>
internal static class SelfTestTolerance
{
    /// <summary>For a single op against CPU fp32 on the same (rounded) inputs.</summary>
    public static double Op(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => 1e-2,
        ScalarType.BFloat16 => 5e-2,
        _ => 1e-4,
    };

    /// <summary>For a whole-model output (logits, hidden states) against a float32 reference implementation.</summary>
    public static double Model(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => 3e-2,
        ScalarType.BFloat16 => 1e-1,
        _ => 1e-3,
    };

    /// <summary>
    /// Whether token sequences (greedy continuations, speculative vs vanilla) must agree exactly. Only in fp32: in half
    /// precision a near-tie can flip an argmax and everything after it, so agreement is reported, not required.
    /// </summary>
    public static bool TokensMustMatch(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.Float64;

    /// <summary>max|actual − expected| ÷ max|expected|, computed in float64 on the CPU; NaN anywhere gives NaN.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(expected);
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64, CPU);
        var e = expected.to(ScalarType.Float64, CPU);
        if (!a.shape.SequenceEqual(e.shape))
            throw new ArgumentException($"shape [{string.Join(", ", a.shape)}] vs reference [{string.Join(", ", e.shape)}]");
        if (a.isnan().any().item<bool>()) return double.NaN;
        double scale = Math.Max(e.abs().max().item<double>(), 1e-30);
        return (a - e).abs().max().item<double>() / scale;
    }
}
