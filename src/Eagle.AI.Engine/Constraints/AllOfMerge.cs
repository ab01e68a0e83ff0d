using System.Text.Json;
using System.Text.Json.Nodes;

namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Merges an <c>allOf</c> (and a <c>$ref</c> with sibling keywords, which means the same) into one schema when that
/// is exact, as schema exporters write it: a referenced definition plus extra properties, or parts that constrain
/// different keywords. Parts are the schema's own keywords and each <c>allOf</c> entry (a <c>$ref</c> entry is replaced
/// by what it points at, nested <c>allOf</c>s are flattened). <c>properties</c> and <c>required</c> are united; any other
/// keyword must agree wherever it appears; a part's <c>additionalProperties</c> must declare every merged property
/// (otherwise it would forbid another part's property, which a merge cannot express). Anything else is refused.
/// </summary>
internal static class AllOfMerge
{
    private const int MaxDepth = 32;

    /// <summary>The single schema equivalent to <paramref name="schema"/>'s parts.</summary>
    /// <param name="schema">A schema with <c>allOf</c>, or <c>$ref</c> beside other keywords.</param>
    /// <param name="resolve">Resolves a <c>$ref</c> pointer within the document.</param>
    /// <param name="at">Where the schema is, for messages.</param>
    /// <exception cref="UnsupportedSchemaException">The parts cannot be merged exactly; the message says which keyword.</exception>
    public static JsonElement Merge(JsonElement schema, Func<string, JsonElement> resolve, string at)
    {
        var parts = new List<JsonObject>();
        Flatten(schema, resolve, at, parts, 0);
        var merged = new JsonObject();
        var properties = new JsonObject();
        var required = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var part in parts)
            foreach (var (key, value) in part)
            {
                switch (key)
                {
                    case "properties":
                        foreach (var (name, sub) in value!.AsObject())
                        {
                            // A part may only name a property ('true' or '{}', e.g. to declare it beside
                            // 'additionalProperties: false'): the other part's schema stands.
                            if (properties[name] is { } existing && !Anything(sub))
                            {
                                if (!Anything(existing) && !JsonNode.DeepEquals(existing, sub))
                                    throw Refuse(at, $"two parts define property '{name}' differently");
                            }
                            if (properties[name] is null || Anything(properties[name])) properties[name] = sub?.DeepClone();
                        }
                        break;
                    case "required":
                        foreach (var name in value!.AsArray()) required.Add(name!.GetValue<string>());
                        break;
                    default:
                        if (merged[key] is { } other && !JsonNode.DeepEquals(other, value))
                            throw Refuse(at, $"two parts set '{key}' differently");
                        merged[key] = value?.DeepClone();
                        break;
                }
            }
        foreach (var part in parts)
            if (part["additionalProperties"] is { } extra && !(extra.GetValueKind() == JsonValueKind.True))
                foreach (var (name, _) in properties)
                    if (part["properties"]?[name] is null)
                        throw Refuse(at, $"a part's 'additionalProperties' would apply to property '{name}' of another part");
        if (properties.Count > 0) merged["properties"] = properties;
        if (required.Count > 0) merged["required"] = new JsonArray([.. required.Select(r => (JsonNode)JsonValue.Create(r))]);
        return JsonSerializer.SerializeToElement(merged);
    }

    // The schema's own keywords as one part, and each allOf entry (references followed, nested allOfs flattened).
    private static void Flatten(JsonElement schema, Func<string, JsonElement> resolve, string at, List<JsonObject> parts, int depth)
    {
        if (depth > MaxDepth) throw Refuse(at, "'allOf'/'$ref' nest too deeply");
        if (schema.ValueKind == JsonValueKind.True) return;
        if (schema.ValueKind != JsonValueKind.Object) throw Refuse(at, $"a part is {schema.ValueKind}, not an object schema");
        var own = new JsonObject();
        foreach (var p in schema.EnumerateObject())
        {
            if (p.Name == "allOf")
            {
                if (p.Value.ValueKind != JsonValueKind.Array) throw Refuse(at, "'allOf' must be an array");
                int i = 0;
                foreach (var entry in p.Value.EnumerateArray()) Flatten(entry, resolve, $"{at}/allOf/{i++}", parts, depth + 1);
            }
            else if (p.Name == "$ref") Flatten(resolve(p.Value.GetString() ?? "#"), resolve, p.Value.GetString() ?? "#", parts, depth + 1);
            else if (p.Name is not ("$defs" or "definitions" or "$schema" or "$id")) own[p.Name] = JsonNode.Parse(p.Value.GetRawText());
        }
        parts.Add(own);
    }

    private static bool Anything(JsonNode? schema) =>
        schema is null || (schema is JsonObject o && o.Count == 0) || (schema is JsonValue v && v.GetValueKind() == JsonValueKind.True);

    private static UnsupportedSchemaException Refuse(string at, string why) =>
        new($"JSON Schema keyword 'allOf' (at '{at}') cannot be enforced: {why}.");
}
