using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Tensor arithmetic whose <see cref="Scalar"/>s cannot be collected mid-call. TorchSharp 0.107 turns a .NET number
/// into a native Scalar for one call and keeps no reference across the P/Invoke (and <c>a + b</c> / <c>a.add(b)</c>
/// pass such an alpha of 1 themselves), so a GC on any thread may finalize it — freeing the c10::Scalar — while
/// libtorch still reads it. Under load that surfaced as "alpha must not be a floating point number", "Expected false
/// to be true" from <c>Scalar::toFloat</c>, or silently wrong numbers. Here every Scalar is static or a <c>using</c>
/// local that lives past the call. BannedSymbols.txt makes the build reject the unsafe TorchSharp overloads.
/// </summary>
internal static class HeldScalars
{
    /// <summary>1, as every add's alpha and every range's step.</summary>
    public static readonly Scalar One = 1L.ToScalar();

    /// <summary>0, for comparisons and fills.</summary>
    public static readonly Scalar Zero = 0L.ToScalar();

    /// <summary>2, for squares (TorchSharp's <c>square()</c> makes its own temporary).</summary>
    public static readonly Scalar Two = 2L.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/> with a held alpha.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/> with a held alpha (<paramref name="b"/> must be held by the caller).</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/>, keeping an integer tensor integral.</summary>
    public static Tensor Plus(this Tensor a, long b) { using var s = b.ToScalar(); return a.add(s, One); }

    /// <summary><paramref name="a"/> + <paramref name="b"/>.</summary>
    public static Tensor Plus(this Tensor a, double b) { using var s = b.ToScalar(); return a.add(s, One); }

    /// <summary><paramref name="a"/> · <paramref name="b"/>, keeping an integer tensor integral.</summary>
    public static Tensor Times(this Tensor a, long b) { using var s = b.ToScalar(); return a.mul(s); }

    /// <summary><paramref name="a"/> · <paramref name="b"/>.</summary>
    public static Tensor Times(this Tensor a, double b) { using var s = b.ToScalar(); return a.mul(s); }

    /// <summary><paramref name="a"/> / <paramref name="b"/> (true division).</summary>
    public static Tensor Over(this Tensor a, double b) { using var s = b.ToScalar(); return a.div(s); }

    /// <summary><paramref name="a"/> with <paramref name="value"/> where <paramref name="mask"/> is true.</summary>
    public static Tensor Fill(this Tensor a, Tensor mask, double value) { using var s = value.ToScalar(); return a.masked_fill(mask, s); }

    /// <summary>The integers [<paramref name="start"/>, <paramref name="stop"/>) as int64.</summary>
    public static Tensor Range(long start, long stop, Device? device = null)
    {
        using var a = start.ToScalar();
        using var b = stop.ToScalar();
        return arange(a, b, One, ScalarType.Int64, device);
    }

    /// <summary>The integers [0, <paramref name="stop"/>) as int64.</summary>
    public static Tensor Range(long stop, Device? device = null) => Range(0, stop, device);

    /// <summary>A tensor of <paramref name="size"/> filled with <paramref name="value"/>.</summary>
    public static Tensor Full(long[] size, long value, ScalarType dtype, Device? device = null)
    {
        using var s = value.ToScalar();
        return full(size, s, dtype, device);
    }

    /// <summary>A tensor of <paramref name="size"/> filled with <paramref name="value"/>.</summary>
    public static Tensor Full(long[] size, double value, ScalarType dtype, Device? device = null)
    {
        using var s = value.ToScalar();
        return full(size, s, dtype, device);
    }
}
