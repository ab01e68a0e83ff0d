using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// A tool offered to the model, kept as its OpenAI-shaped JSON definition
/// (<c>{"type": "function", "function": {"name", "description", "parameters"}}</c>) because the template prints that
/// object verbatim with <c>tojson(indent=4)</c>; extra keys and key order therefore survive.
/// </summary>
public sealed record PromptTool
{
    /// <summary>Wraps an OpenAI-shaped tool definition.</summary>
    /// <param name="definition">The definition object; copied, so the source document may be disposed.</param>
    /// <exception cref="ArgumentException">The definition is not a JSON object.</exception>
    public PromptTool(JsonElement definition)
    {
        if (definition.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"A tool definition must be a JSON object, not {definition.ValueKind}.", nameof(definition));
        }
        Definition = definition.Clone();
    }

    /// <summary>The OpenAI-shaped definition.</summary>
    public JsonElement Definition { get; }

    /// <summary>The function's name, or an empty string when the definition has none.</summary>
    public string Name =>
        Definition.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
        && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()!
            : "";

    /// <summary>Builds the definition HF's <c>get_json_schema</c> would produce for a function.</summary>
    /// <param name="name">The function's name.</param>
    /// <param name="description">What it does; omitted when null.</param>
    /// <param name="parameters">Its JSON schema, normally <c>{"type": "object", "properties": …}</c>.</param>
    public static PromptTool Function(string name, string? description, JsonElement parameters)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "function");
            writer.WriteStartObject("function");
            writer.WriteString("name", name);
            if (description is not null)
            {
                writer.WriteString("description", description);
            }
            writer.WritePropertyName("parameters");
            parameters.WriteTo(writer);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.ToArray());
        return new PromptTool(document.RootElement);
    }
}
