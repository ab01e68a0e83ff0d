using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Additions whose alpha cannot be collected mid-call. TorchSharp's <c>a + b</c> and <c>a.add(b)</c> pass an implicit
/// <see cref="Scalar"/> alpha of 1 created for the call; the GC may finalize it (freeing the native scalar) while the
/// native op still reads it, which turns up under load as "alpha must not be a floating point number" on integer
/// tensors, or silently on float ones. A static alpha lives for the process.
/// </summary>
internal static class HeldScalars
{
    /// <summary>1, as every add's alpha.</summary>
    public static readonly Scalar One = 1L.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/> with a held alpha.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/> with a held alpha (<paramref name="b"/> must be held by the caller).</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);
}
