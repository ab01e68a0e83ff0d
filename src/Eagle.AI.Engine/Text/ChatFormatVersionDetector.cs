using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>Tells LLaMA-3.0 from 3.1 by the files of a model folder (the vocabulary is identical, the prompt format is not).</summary>
internal static class ChatFormatVersionDetector
{
    /// <summary>
    /// Returns <see cref="ChatFormatVersion.Llama31"/> when <c>config.json</c> has <c>rope_scaling.rope_type == "llama3"</c>
    /// (3.1's long-context RoPE) or <c>tokenizer_config.json</c>'s chat template mentions "Cutting Knowledge"; otherwise 3.0.
    /// </summary>
    /// <param name="path">A model folder, or a file inside one (e.g. its tokenizer); <c>original/</c> counts as its parent.</param>
    /// <exception cref="InvalidDataException">One of the two files is not valid JSON.</exception>
    public static ChatFormatVersion Detect(string path)
    {
        string folder = ModelFolder(path);
        using var config = ReadJson(Path.Combine(folder, "config.json"));
        if (config is not null
            && config.RootElement.ValueKind == JsonValueKind.Object
            && config.RootElement.TryGetProperty("rope_scaling", out var ropeScaling)
            && ropeScaling.ValueKind == JsonValueKind.Object
            && ropeScaling.TryGetProperty("rope_type", out var ropeType)
            && ropeType.ValueKind == JsonValueKind.String
            && ropeType.GetString() == "llama3")
        {
            return ChatFormatVersion.Llama31;
        }

        using var tokenizerConfig = ReadJson(Path.Combine(folder, "tokenizer_config.json"));
        if (tokenizerConfig is not null
            && tokenizerConfig.RootElement.ValueKind == JsonValueKind.Object
            && tokenizerConfig.RootElement.TryGetProperty("chat_template", out var template)
            && MentionsKnowledgeDate(template))
        {
            return ChatFormatVersion.Llama31;
        }
        return ChatFormatVersion.Llama30;
    }

    // chat_template is a string, or a list of {"name", "template"} when a model ships several.
    private static bool MentionsKnowledgeDate(JsonElement template) => template.ValueKind switch
    {
        JsonValueKind.String => template.GetString()!.Contains("Cutting Knowledge", StringComparison.Ordinal),
        JsonValueKind.Array => template.EnumerateArray().Any(MentionsKnowledgeDate),
        JsonValueKind.Object => template.TryGetProperty("template", out var inner) && MentionsKnowledgeDate(inner),
        _ => false,
    };

    private static string ModelFolder(string path)
    {
        string folder = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) == "original"
            ? Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(folder)) ?? folder
            : folder;
    }

    private static JsonDocument? ReadJson(string file)
    {
        if (!File.Exists(file))
        {
            return null;
        }
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(file));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{file}' is not valid JSON: {e.Message}", e);
        }
    }
}
