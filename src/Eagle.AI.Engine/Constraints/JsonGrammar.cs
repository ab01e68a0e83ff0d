using System.Text.Json;
using System.Text.Json.Nodes;

namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// What a constrained answer must be: one JSON value of a compiled shape, with nothing before or after it. Made from a
/// JSON Schema (<see cref="FromSchema"/>), as any JSON object (<see cref="AnyObject"/>), or as a LLaMA-3.1 tool call
/// (<see cref="ToolCall"/>). Immutable; one grammar may serve many requests at once.
/// </summary>
public sealed class JsonGrammar
{
    private JsonGrammar(SchemaNode root) => Root = root;

    internal SchemaNode Root { get; }

    /// <summary>Any JSON object (a JSON-mode answer).</summary>
    public static JsonGrammar AnyObject { get; } = new(ObjectFrame.AnyObject);

    /// <summary>A value valid against <paramref name="schema"/> (see <see cref="JsonSchemaCompiler"/> for the keywords).</summary>
    /// <exception cref="UnsupportedSchemaException">The schema uses a keyword constrained decoding cannot enforce; the message names it.</exception>
    public static JsonGrammar FromSchema(JsonElement schema) => new(JsonSchemaCompiler.Compile(schema));

    /// <summary>
    /// A LLaMA-3.1 JSON tool call, <c>{"name": …, "parameters": {…}}</c>, naming one of <paramref name="tools"/> with
    /// parameters valid for that tool's schema (null = any object).
    /// </summary>
    /// <exception cref="ArgumentException">No tools.</exception>
    public static JsonGrammar ToolCall(IEnumerable<KeyValuePair<string, JsonElement?>> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var calls = new JsonArray();
        foreach (var (name, parameters) in tools)
            calls.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["name"] = new JsonObject { ["const"] = name },
                    ["parameters"] = parameters is { } p ? JsonNode.Parse(p.GetRawText()) : new JsonObject { ["type"] = "object" },
                },
                ["required"] = new JsonArray("name", "parameters"),
                ["additionalProperties"] = false,
            });
        if (calls.Count == 0) throw new ArgumentException("a tool call needs at least one tool", nameof(tools));
        var schema = calls.Count == 1 ? calls[0]! : new JsonObject { ["anyOf"] = calls };
        return FromSchema(JsonSerializer.SerializeToElement(schema));
    }

    /// <summary>Whether <paramref name="utf8"/> is a whole document of this grammar.</summary>
    public bool Accepts(ReadOnlySpan<byte> utf8) => Feed(utf8)?.IsComplete == true;

    /// <summary>Whether <paramref name="utf8"/> is the start of some document of this grammar (or a whole one).</summary>
    public bool AcceptsPrefix(ReadOnlySpan<byte> utf8) => Feed(utf8) is not null;

    internal JsonFrame Start() => new RootFrame(Root);

    private JsonFrame? Feed(ReadOnlySpan<byte> utf8)
    {
        JsonFrame s = Start();
        foreach (byte b in utf8)
            if (s.Step(b) is { } next) s = next;
            else return null;
        return s;
    }
}
