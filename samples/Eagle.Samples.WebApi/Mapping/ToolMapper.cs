using System.Text.Json;
using System.Text.RegularExpressions;
using Eagle.Samples.WebApi.Contracts;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// <c>tools</c> → <see cref="AIFunctionDeclaration"/>s (declarations only: the server never runs a tool, the HTTP client
/// does), and <c>tool_choice</c> → <see cref="ChatToolMode"/>.
/// </summary>
internal static partial class ToolMapper
{
    // What OpenAI accepts as a function name.
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex FunctionName();

    private static readonly JsonElement NoParameters = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    public static List<AITool>? ToTools(IReadOnlyList<RequestTool?>? tools)
    {
        if (tools is null) return null;
        var names = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<AITool>(tools.Count);
        for (int i = 0; i < tools.Count; i++)
        {
            string at = $"tools[{i}]";
            var tool = tools[i] ?? throw RequestError.Invalid(at, $"'{at}' must be an object.", "invalid_type");
            if (tool.Type is null) throw RequestError.Missing($"{at}.type");
            if (tool.Type != "function")
                throw RequestError.Invalid($"{at}.type", $"Invalid value '{tool.Type}' for '{at}.type'. Supported value: 'function'.");
            var function = tool.Function ?? throw RequestError.Missing($"{at}.function");
            if (function.Name is null) throw RequestError.Missing($"{at}.function.name");
            if (!FunctionName().IsMatch(function.Name))
                throw RequestError.Invalid($"{at}.function.name",
                    $"Invalid '{at}.function.name' '{function.Name}': use 1 to 64 letters, digits, underscores or dashes.");
            if (!names.Add(function.Name))
                throw RequestError.Invalid($"{at}.function.name", $"Two tools are named '{function.Name}'; function names must be unique.");
            var schema = function.Parameters is null or { ValueKind: JsonValueKind.Null } ? NoParameters : function.Parameters.Value;
            if (schema.ValueKind != JsonValueKind.Object)
                throw RequestError.Invalid($"{at}.function.parameters", $"'{at}.function.parameters' must be a JSON schema object.", "invalid_type");
            result.Add(AIFunctionFactory.CreateDeclaration(function.Name, function.Description, schema));
        }
        return result;
    }

    /// <summary>
    /// <c>"none"</c>, <c>"auto"</c>, <c>"required"</c> or <c>{"type":"function","function":{"name":…}}</c>. Whether a required
    /// function is among the tools is the client's to check (its error names the option and is mapped to <c>tool_choice</c>).
    /// </summary>
    public static ChatToolMode? ToToolMode(JsonElement? choice, bool hasTools)
    {
        if (choice is null or { ValueKind: JsonValueKind.Null }) return null;
        if (!hasTools) throw RequestError.Invalid("tool_choice", "'tool_choice' is only allowed when 'tools' are given.");
        var value = choice.Value;
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString() switch
            {
                "none" => ChatToolMode.None,
                "auto" => ChatToolMode.Auto,
                "required" => ChatToolMode.RequireAny,
                var other => throw RequestError.Invalid("tool_choice",
                    $"Invalid value '{other}' for 'tool_choice'. Supported values are 'none', 'auto', 'required' and {{\"type\":\"function\",\"function\":{{\"name\":...}}}}."),
            };
        }
        if (value.ValueKind == JsonValueKind.Object
            && value.TryGetProperty("type", out var type) && type.ValueEquals("function")
            && value.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
            && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            return ChatToolMode.RequireSpecific(name.GetString()!);
        throw RequestError.Invalid("tool_choice",
            "'tool_choice' must be 'none', 'auto', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.", "invalid_type");
    }
}
