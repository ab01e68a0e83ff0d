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
        foreach (var (option, value, rule) in OutOfRange(Temperature, TopP, TopK))
        {
            string label = option switch { nameof(Temperature) => "temperature", nameof(TopP) => "top-p", _ => "top-k" };
            throw new ArgumentOutOfRangeException(option, value, $"{label} {rule}");
        }
    }

    /// <summary>
    /// The given settings (null = not given) that are out of range, each with the rule it breaks (e.g. <c>must be in (0, 1]</c>).
    /// This is the one statement of the ranges: requests, engine options and chat options are checked against it where
    /// they enter, each naming the setting in its own terms.
    /// </summary>
    public static IEnumerable<(string Option, object Value, string Rule)> OutOfRange(float? temperature, float? topP, int? topK)
    {
        if (temperature is { } t && !(t >= 0f && t <= 100f)) yield return (nameof(Temperature), t, "must be in [0, 100] (0 = greedy)");
        if (topP is { } p && !(p > 0f && p <= 1f)) yield return (nameof(TopP), p, "must be in (0, 1]");
        if (topK is { } k && k < 0) yield return (nameof(TopK), k, "must be >= 0 (0 = off)");
    }
}
