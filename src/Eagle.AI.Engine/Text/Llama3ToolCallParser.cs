using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// Recognises tool calls in LLaMA-3.1 assistant output, in the forms Meta documents and vLLM accepts:
/// <c>{"name": "f", "parameters": {…}}</c> (or <c>"arguments"</c>), optionally after <c>&lt;|python_tag|&gt;</c>, and
/// <c>&lt;function=f&gt;{…}&lt;/function&gt;</c>; several calls may be separated by <c>;</c> or new lines. Output that is
/// not entirely such calls is plain text: parsing never throws.
/// </summary>
public static class Llama3ToolCallParser
{
    private const string PythonTag = "<|python_tag|>";
    private const string FunctionOpen = "<function=";

    private static readonly Regex s_functionCall = new(@"\G<function=([^>\s]+)>(.*?)</function>", RegexOptions.Singleline | RegexOptions.CultureInvariant);

    /// <summary>
    /// True when the output already looks like the start of a tool call (its first non-white-space text is <c>{</c>,
    /// <c>&lt;|python_tag|&gt;</c> or <c>&lt;function=</c>), so a streaming client should buffer it instead of showing it.
    /// </summary>
    /// <param name="text">The output generated so far.</param>
    public static bool LooksLikeToolCallStart(string text)
    {
        var rest = text.AsSpan().TrimStart();
        return rest.StartsWith("{") || rest.StartsWith(PythonTag) || rest.StartsWith(FunctionOpen);
    }

    /// <summary>
    /// Like <see cref="LooksLikeToolCallStart"/>, but also answers "not yet known" while the output is white space or a
    /// proper prefix of a marker (e.g. <c>&lt;func</c>), so a streaming client holds those few characters back.
    /// </summary>
    /// <param name="text">The output generated so far.</param>
    public static ToolCallStart ClassifyStart(string text)
    {
        if (LooksLikeToolCallStart(text))
        {
            return ToolCallStart.ToolCall;
        }
        var rest = text.AsSpan().TrimStart();
        return rest.IsEmpty || PythonTag.AsSpan().StartsWith(rest) || FunctionOpen.AsSpan().StartsWith(rest)
            ? ToolCallStart.Undecided
            : ToolCallStart.PlainText;
    }

    /// <summary>Parses complete assistant output.</summary>
    /// <param name="text">The whole output (a trailing <c>&lt;|eot_id|&gt;</c> or <c>&lt;|eom_id|&gt;</c> is ignored).</param>
    /// <param name="calls">The calls, in order, when the output is nothing but tool calls; otherwise empty.</param>
    /// <returns>True when the output is one or more tool calls; false when it is plain text.</returns>
    public static bool TryParse(string text, out IReadOnlyList<ParsedToolCall> calls)
    {
        calls = [];
        string body = text.Trim();
        if (body.StartsWith(PythonTag, StringComparison.Ordinal))
        {
            body = body[PythonTag.Length..].TrimStart();
        }
        foreach (string end in new[] { "<|eot_id|>", "<|eom_id|>" })
        {
            if (body.EndsWith(end, StringComparison.Ordinal))
            {
                body = body[..^end.Length].TrimEnd();
            }
        }
        var parsed = body.StartsWith(FunctionOpen, StringComparison.Ordinal) ? ParseFunctionTags(body)
            : body.StartsWith('{') ? ParseJsonCalls(body)
            : null;
        if (parsed is null || parsed.Count == 0)
        {
            return false;
        }
        calls = parsed;
        return true;
    }

    /// <summary><c>&lt;function=NAME&gt;{…}&lt;/function&gt;</c>, repeated with separators in between.</summary>
    private static List<ParsedToolCall>? ParseFunctionTags(string body)
    {
        var calls = new List<ParsedToolCall>();
        int position = 0;
        while (position < body.Length)
        {
            var match = s_functionCall.Match(body, position);
            if (!match.Success || !TryParseObject(match.Groups[2].Value.Trim(), out var arguments))
            {
                return null;
            }
            calls.Add(new ParsedToolCall(match.Groups[1].Value, arguments));
            position = SkipSeparators(body, match.Index + match.Length);
        }
        return calls;
    }

    /// <summary>JSON objects with <c>name</c> and <c>parameters</c>/<c>arguments</c>, repeated with separators in between.</summary>
    private static List<ParsedToolCall>? ParseJsonCalls(string body)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(body);
        var calls = new List<ParsedToolCall>();
        int position = 0;
        while (position < utf8.Length)
        {
            if (utf8[position] != (byte)'{')
            {
                return null;
            }
            JsonElement call;
            try
            {
                // AllowMultipleValues stops the reader after one value instead of rejecting what follows it.
                var reader = new Utf8JsonReader(utf8.AsSpan(position), new JsonReaderOptions { AllowMultipleValues = true });
                using var document = JsonDocument.ParseValue(ref reader);
                call = document.RootElement.Clone();
                position += (int)reader.BytesConsumed;
            }
            catch (JsonException)
            {
                return null;
            }
            if (!TryReadCall(call, out var parsed))
            {
                return null;
            }
            calls.Add(parsed);
            position = SkipSeparators(utf8, position);
        }
        return calls;
    }

    private static bool TryReadCall(JsonElement call, out ParsedToolCall parsed)
    {
        parsed = null!;
        if (!call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString()!.Length == 0)
        {
            return false;
        }
        if (!call.TryGetProperty("parameters", out var arguments) && !call.TryGetProperty("arguments", out arguments))
        {
            return false;
        }
        // Some models emit the arguments as a JSON string holding the object.
        if (arguments.ValueKind == JsonValueKind.String)
        {
            if (!TryParseObject(arguments.GetString()!, out var fromString))
            {
                return false;
            }
            parsed = new ParsedToolCall(name.GetString()!, fromString);
            return true;
        }
        if (arguments.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        parsed = new ParsedToolCall(name.GetString()!, ToDictionary(arguments));
        return true;
    }

    private static bool TryParseObject(string json, out IReadOnlyDictionary<string, JsonElement> arguments)
    {
        arguments = new Dictionary<string, JsonElement>();
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            arguments = ToDictionary(document.RootElement.Clone());
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // Duplicate keys keep the last value, as Python's json.loads does.
    private static Dictionary<string, JsonElement> ToDictionary(JsonElement detachedObject)
    {
        var arguments = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in detachedObject.EnumerateObject())
        {
            arguments[property.Name] = property.Value;
        }
        return arguments;
    }

    private static int SkipSeparators(string text, int position)
    {
        while (position < text.Length && (char.IsWhiteSpace(text[position]) || text[position] == ';'))
        {
            position++;
        }
        return position;
    }

    private static int SkipSeparators(byte[] utf8, int position)
    {
        while (position < utf8.Length && utf8[position] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)';')
        {
            position++;
        }
        return position;
    }
}
