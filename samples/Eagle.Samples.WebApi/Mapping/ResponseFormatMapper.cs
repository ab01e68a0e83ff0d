using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// <c>response_format</c> → <see cref="ChatOptions.ResponseFormat"/>: <c>{"type":"text"}</c>, <c>{"type":"json_object"}</c>
/// or <c>{"type":"json_schema","json_schema":{"name":…,"schema":{…},"strict":…}}</c>. The Eagle client enforces a schema
/// by constrained decoding whether or not <c>strict</c> is set, and refuses one it cannot enforce (a 400 on
/// <c>response_format</c>) rather than answering unconstrained.
/// </summary>
internal static class ResponseFormatMapper
{
    public static ChatResponseFormat? ToResponseFormat(JsonElement? format)
    {
        if (format is null or { ValueKind: JsonValueKind.Null }) return null;
        var value = format.Value;
        if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw RequestError.Invalid("response_format", "'response_format' must be an object with a string 'type'.", "invalid_type");
        switch (type.GetString())
        {
            case "text":
                return ChatResponseFormat.Text;
            case "json_object":
                return ChatResponseFormat.Json;
            case "json_schema":
                if (!value.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object)
                    throw RequestError.Invalid("response_format.json_schema", "'response_format.json_schema' must be an object.", "missing_required_parameter");
                if (!spec.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    throw RequestError.Invalid("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON schema object.", "invalid_type");
                return ChatResponseFormat.ForJsonSchema(schema.Clone(), Text(spec, "name"), Text(spec, "description"));
            case var other:
                throw RequestError.Invalid("response_format.type",
                    $"Invalid value '{other}' for 'response_format.type'. Supported values are 'text', 'json_object' and 'json_schema'.");
        }
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
