using System.Text.Json;
using System.Text.Json.Serialization;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>Reads and writes the <c>config.json</c> of a model or draft-head folder; every failure is a <see cref="CheckpointException"/> naming the file.</summary>
internal static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Binds <c>config.json</c> in <paramref name="folderOrFile"/> (or that file itself) and returns it with its path.</summary>
    public static (T Config, string Path) Read<T>(string folderOrFile) where T : class
    {
        string path = Directory.Exists(folderOrFile) ? System.IO.Path.Combine(folderOrFile, "config.json") : folderOrFile;
        if (!File.Exists(path)) throw new CheckpointException(path, null, "config.json not found");
        T? config;
        try
        {
            config = JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException(path, null, $"invalid JSON: {e.Message}", e);
        }
        return (config ?? throw new CheckpointException(path, null, "empty config"), path);
    }

    /// <summary>Writes <paramref name="config"/> as <c>config.json</c> into <paramref name="folder"/>.</summary>
    public static void Write<T>(T config, string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(System.IO.Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config, Options));
    }
}
