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
    /// <exception cref="InvalidDataException"><c>generation_config.json</c> is not valid JSON of the expected shape.</exception>
    public static GenerationDefaults Resolve(EagleOptions options, string modelPath, IEnumerable<int> stopTokenIds)
    {
        var file = GenerationConfigFile.TryRead(modelPath);
        bool samples = file?.DoSample == true;
        var stop = new SortedSet<int>(stopTokenIds);
        stop.UnionWith(file?.EosTokenIds ?? []);
        return new GenerationDefaults(
            options.Temperature ?? (samples ? file!.Temperature ?? 1f : 0f),
            options.TopP ?? (samples ? file!.TopP : null) ?? 1f,
            options.TopK ?? (samples ? file!.TopK : null) ?? 0,
            options.MaxOutputTokens ?? file?.MaxNewTokens,
            [.. stop]);
    }
}
