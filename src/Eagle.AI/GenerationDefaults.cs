using Eagle.AI.Engine.Decoding;

namespace Eagle.AI;

/// <summary>What a request gets for each setting it leaves unset.</summary>
/// <param name="Temperature">0 = greedy.</param>
/// <param name="TopP">1 = off.</param>
/// <param name="TopK">0 = off.</param>
/// <param name="MaxOutputTokens">null = up to the context limit.</param>
/// <param name="StopTokenIds">Ids that end an answer.</param>
internal sealed record GenerationDefaults(float Temperature, float TopP, int TopK, int? MaxOutputTokens, IReadOnlyCollection<int> StopTokenIds)
{
    /// <summary>Greedy, no limit but the context, stopping at LLaMA-3's end ids.</summary>
    public static GenerationDefaults Greedy(IReadOnlyCollection<int> stopTokenIds) => new(0f, 1f, 0, null, stopTokenIds);

    /// <summary>
    /// Options first, then the model folder's <c>generation_config.json</c> (only the values it states, as vLLM reads it:
    /// its temperature counts only when <c>do_sample</c> is true), then greedy. The stop ids are the union of the
    /// instruct stop set, <c>config.json</c>'s and <c>generation_config.json</c>'s <c>eos_token_id</c>.
    /// </summary>
    /// <exception cref="InvalidDataException"><c>generation_config.json</c> is not valid JSON of the expected shape, or a value it gives is out of range.</exception>
    public static GenerationDefaults Resolve(EagleOptions options, string modelPath, IEnumerable<int> stopTokenIds)
    {
        var file = GenerationConfigFile.TryRead(modelPath);
        bool samples = file?.DoSample == true;
        var stop = new SortedSet<int>(stopTokenIds);
        stop.UnionWith(file?.EosTokenIds ?? []);
        var defaults = new GenerationDefaults(
            options.Temperature ?? (samples ? file!.Temperature ?? 1f : 0f),
            options.TopP ?? (samples ? file!.TopP : null) ?? 1f,
            options.TopK ?? (samples ? file!.TopK : null) ?? 0,
            options.MaxOutputTokens ?? file?.MaxNewTokens,
            [.. stop]);
        // The options were validated already, so a value out of range came from the file: refused here, where it
        // enters, since requests trust their defaults.
        string? problem = SamplingOptions.OutOfRange(defaults.Temperature, defaults.TopP, defaults.TopK)
            .Select(p => $"{p.Option switch { "Temperature" => "temperature", "TopP" => "top_p", _ => "top_k" }} {p.Value} {p.Rule}")
            .FirstOrDefault() ?? (defaults.MaxOutputTokens is < 1 ? $"max_new_tokens {defaults.MaxOutputTokens} must be >= 1" : null);
        if (problem is not null)
            throw new InvalidDataException($"'{Path.Combine(modelPath, "generation_config.json")}' is not a valid generation_config.json: {problem}.");
        return defaults;
    }
}
