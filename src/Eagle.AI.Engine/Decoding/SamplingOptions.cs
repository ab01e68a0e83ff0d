namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// How the next token is chosen from the target's logits. Temperature 0 is greedy. Otherwise the processing order is
/// Hugging Face <c>generate</c>'s: temperature → top-k → top-p, then a draw from a seeded generator. Speculative
/// decoding applies exactly this processing to the target distribution, which is what makes it lossless.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>0 = greedy; otherwise the softmax temperature, in (0, 100].</summary>
    public float Temperature { get; init; }
    /// <summary>Nucleus mass in (0, 1]; 1 = off.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Keep the k most likely tokens; 0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>Seed of the draw; the same seed gives the same output. Null = a random seed.</summary>
    public long? Seed { get; init; }

    /// <summary>Greedy decoding.</summary>
    public static readonly SamplingOptions Greedy = new();

    /// <summary>True when the argmax is taken.</summary>
    public bool IsGreedy => Temperature == 0f;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the option and its allowed range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0f && Temperature <= 100f))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be in [0, 100] (0 = greedy)");
        if (!(TopP > 0f && TopP <= 1f))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1]");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be >= 0 (0 = off)");
    }
}
