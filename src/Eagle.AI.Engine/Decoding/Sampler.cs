using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// Turns target logits into the processed distribution and draws from it. The distribution is computed on the logits'
/// device; the draw is an inverse-CDF on the host with a seeded <see cref="Random"/>, so the same seed reproduces the same
/// tokens on any device, and acceptance tests in speculative decoding draw from the same stream.
/// </summary>
internal sealed class Sampler
{
    private readonly SamplingOptions options;
    private readonly Random random;

    // Made only by a session, which validated the options where they entered (its constructor).
    internal Sampler(SamplingOptions options)
    {
        Debug.Assert(!SamplingOptions.OutOfRange(options.Temperature, options.TopP, options.TopK).Any());
        this.options = options;
        random = options.Seed is { } s ? new Random(unchecked((int)(s ^ (s >> 32)))) : new Random();
    }

    /// <summary>True when the argmax is taken.</summary>
    public bool IsGreedy => options.IsGreedy;

    /// <summary>A uniform draw in [0, 1) from the sampler's stream.</summary>
    public double NextUniform() => random.NextDouble();

    /// <summary>
    /// <paramref name="count"/> uniform draws in [0, 1) from the sampler's stream as an fp64 tensor on
    /// <paramref name="device"/>: speculative acceptance runs on the device but draws from the same seeded stream.
    /// </summary>
    public Tensor Uniforms(int count, Device device)
    {
        var u = new double[count];
        for (int i = 0; i < count; i++) u[i] = random.NextDouble();
        return tensor(u, device: device);
    }

    /// <summary>
    /// The processed distribution over the vocabulary: softmax(logits / T) restricted to the top-k, then to the top-p
    /// nucleus (Hugging Face warpers: ties at the k-th value are kept; the most likely token is always kept; see
    /// <see cref="Truncation"/> for ties at the nucleus boundary). logits fp32 [.., V] → probabilities fp32 [.., V].
    /// </summary>
    public Tensor Probabilities(Tensor logits)
    {
        using var scope = NewDisposeScope();
        // Scalars held in locals until the end: an implicit temporary can be finalized by the GC while the native call
        // still reads it (seen as a sporadic "toFloat" check failure under parallel load).
        using var temperature = options.Temperature.ToScalar();
        var x = options.Temperature is 0f or 1f ? logits : logits / temperature;
        long vocab = x.shape[^1];
        if (!(options.TopK > 0 && options.TopK < vocab) && options.TopP >= 1f)
            return x.softmax(-1).MoveToOuterDisposeScope();
        var rows = x.reshape(-1, vocab);
        return Truncation.Probabilities(rows, options.TopK, options.TopP).view(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>The next token from logits [V]: argmax when greedy, else a draw from <see cref="Probabilities"/>.</summary>
    public int Next(Tensor logits)
    {
        if (IsGreedy) return HostReads.ArgMax(logits);
        using var p = Probabilities(logits);
        return Draw(p);
    }

    /// <summary>A draw from probabilities [V] (need not be normalised exactly).</summary>
    public int Draw(Tensor probabilities) => Draw(HostReads.Float32(probabilities));

    /// <summary>Inverse-CDF draw from host probabilities (need not sum to one exactly).</summary>
    public int Draw(ReadOnlySpan<float> p)
    {
        double total = 0;
        foreach (var v in p) total += v;
        double u = random.NextDouble() * total, acc = 0;
        int last = -1;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] <= 0) continue;
            acc += p[i];
            last = i;
            if (u < acc) return i;
        }
        return last >= 0 ? last : throw new InvalidOperationException("cannot sample from an all-zero distribution");
    }
}
