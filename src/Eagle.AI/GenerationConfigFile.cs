using System.Text.Json;
using System.Text.Json.Serialization;

namespace Eagle.AI;

/// <summary>The parts of a Hugging Face <c>generation_config.json</c> that matter here.</summary>
internal sealed record GenerationConfigFile
{
    [JsonPropertyName("do_sample")] public bool? DoSample { get; init; }
    [JsonPropertyName("temperature")] public float? Temperature { get; init; }
    [JsonPropertyName("top_p")] public float? TopP { get; init; }
    [JsonPropertyName("top_k")] public int? TopK { get; init; }
    [JsonPropertyName("max_new_tokens")] public int? MaxNewTokens { get; init; }
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenIdRaw { get; init; }

    /// <summary><c>eos_token_id</c> as a list (the file has an int or a list).</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenIdRaw switch
    {
        { ValueKind: JsonValueKind.Number } n => [n.GetInt32()],
        { ValueKind: JsonValueKind.Array } a => [.. a.EnumerateArray().Select(x => x.GetInt32())],
        null or { ValueKind: JsonValueKind.Null } => [],
        _ => throw new FormatException("eos_token_id must be an integer or a list of integers"),
    };

    /// <summary>Reads <c>generation_config.json</c> in <paramref name="modelPath"/>, or returns null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON of the expected shape.</exception>
    public static GenerationConfigFile? TryRead(string modelPath)
    {
        string path = Path.Combine(modelPath, "generation_config.json");
        if (!File.Exists(path)) return null;
        try
        {
            var file = JsonSerializer.Deserialize<GenerationConfigFile>(File.ReadAllBytes(path));
            _ = file?.EosTokenIds;  // a malformed id list should fail here, at load, not at the first request
            return file;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a valid generation_config.json: {e.Message}", e);
        }
    }
}
