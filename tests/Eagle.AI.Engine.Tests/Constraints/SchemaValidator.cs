using System.Text.Json;
using Json.Schema;

namespace Eagle.AI.Engine.Tests.Constraints;

/// <summary>An independent judge of constrained output: JsonSchema.Net (and System.Text.Json for well-formedness).</summary>
internal static class SchemaValidator
{
    /// <summary>Whether <paramref name="document"/> is one JSON value valid against <paramref name="schema"/> (null = any JSON object).</summary>
    public static bool IsValid(string? schema, string document)
    {
        JsonElement value;
        try
        {
            using var doc = JsonDocument.Parse(document);
            value = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return false;
        }
        if (schema is null) return value.ValueKind == JsonValueKind.Object;
        // Draft 2020-12, which (like the specification, and the compiler) ignores keywords outside it.
        var results = JsonSchema.FromText(schema, new BuildOptions { Dialect = Dialect.Draft202012 }).Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.Flag, RequireFormatValidation = true });
        return results.IsValid;
    }
}
