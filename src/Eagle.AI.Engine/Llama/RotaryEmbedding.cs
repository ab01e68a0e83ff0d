using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// Rotary position embedding in the Hugging Face rotate-half convention (the two halves of a head are the pair, not
/// adjacent elements), with LLaMA-3.1's <c>llama3</c> frequency scaling. Positions are arbitrary per token, which is what
/// tree verification needs (siblings share a position).
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor invFreq; // [D/2] fp32

    /// <summary>Builds the inverse frequencies for <paramref name="headDim"/> on <paramref name="device"/>.</summary>
    public RotaryEmbedding(int headDim, double theta, RopeScaling? scaling, Device device)
    {
        invFreq = tensor(InverseFrequencies(headDim, theta, scaling).Select(f => (float)f).ToArray(), device: device);
    }

    /// <summary>The per-pair inverse frequencies, computed in double (HF <c>_compute_llama3_parameters</c>).</summary>
    public static double[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        var inv = new double[headDim / 2];
        for (int i = 0; i < inv.Length; i++)
            inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        if (scaling is null || scaling.Kind == "default") return inv;

        double lowWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        double highWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        for (int i = 0; i < inv.Length; i++)
        {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowWavelen)
                inv[i] /= scaling.Factor; // long wavelengths: fully interpolated
            else if (wavelen >= highWavelen)
            {
                // medium band: blend between interpolated and original
                double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                                / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                inv[i] = (1 - smooth) * inv[i] / scaling.Factor + smooth * inv[i];
            }
        }
        return inv;
    }

    /// <summary>cos and sin tables [n, D] for <paramref name="positions"/> [n] (int64), in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Tables(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positions.to(ScalarType.Float32).outer(invFreq); // [n, D/2]
        var emb = cat([freqs, freqs], -1);                               // [n, D]
        var cos = emb.cos().to(dtype);
        var sin = emb.sin().to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates x [B, heads, n, D] by the tables from <see cref="Tables"/>.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([x2.neg(), x1], -1);
        return (x * cos).Plus(rotated * sin).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() => invFreq.Dispose();
}
