using System.Text.Json;
using Eagle.Samples.WebApi.Contracts;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// <c>messages</c> → <see cref="ChatMessage"/>s: system and developer → <see cref="ChatRole.System"/>; user; assistant with
/// text and/or <see cref="FunctionCallContent"/>s; tool → <see cref="FunctionResultContent"/> for its <c>tool_call_id</c>.
/// Every refusal names the offending field, e.g. <c>messages[3].tool_call_id</c>.
/// </summary>
internal static class MessageMapper
{
    public static List<ChatMessage> ToChatMessages(IReadOnlyList<RequestMessage?>? messages)
    {
        if (messages is null) throw RequestError.Missing("messages");
        if (messages.Count == 0) throw RequestError.Invalid("messages", "'messages' must hold at least one message.", "empty_array");
        var callIds = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            string at = $"messages[{i}]";
            var m = messages[i] ?? throw RequestError.Invalid(at, $"'{at}' must be an object.", "invalid_type");
            var message = m.Role switch
            {
                null => throw RequestError.Missing($"{at}.role"),
                "system" or "developer" => new ChatMessage(ChatRole.System, TextParts(m.Content, $"{at}.content", required: true)),
                "user" => new ChatMessage(ChatRole.User, TextParts(m.Content, $"{at}.content", required: true)),
                "assistant" => Assistant(m, at, callIds),
                "tool" => ToolResult(m, at, callIds),
                _ => throw RequestError.Invalid($"{at}.role",
                    $"Invalid value '{m.Role}' for '{at}.role'. Supported values are 'system', 'developer', 'user', 'assistant' and 'tool'."),
            };
            message.AuthorName = m.Name;
            result.Add(message);
        }
        return result;
    }

    private static ChatMessage Assistant(RequestMessage m, string at, HashSet<string> callIds)
    {
        var contents = TextParts(m.Content, $"{at}.content", required: false);
        var calls = m.ToolCalls ?? [];
        for (int j = 0; j < calls.Count; j++)
        {
            string callAt = $"{at}.tool_calls[{j}]";
            var call = calls[j] ?? throw RequestError.Invalid(callAt, $"'{callAt}' must be an object.", "invalid_type");
            if (call.Type is not (null or "function"))
                throw RequestError.Invalid($"{callAt}.type", $"Invalid value '{call.Type}' for '{callAt}.type'. Supported value: 'function'.");
            if (string.IsNullOrEmpty(call.Id)) throw RequestError.Missing($"{callAt}.id");
            if (call.Function is null) throw RequestError.Missing($"{callAt}.function");
            if (string.IsNullOrEmpty(call.Function.Name)) throw RequestError.Missing($"{callAt}.function.name");
            if (call.Function.Arguments is null) throw RequestError.Missing($"{callAt}.function.arguments");
            contents.Add(new FunctionCallContent(call.Id, call.Function.Name, Arguments(call.Function.Arguments, $"{callAt}.function.arguments")));
            callIds.Add(call.Id);
        }
        if (m.Content is null or { ValueKind: JsonValueKind.Null } && calls.Count == 0)
            throw RequestError.Invalid($"{at}.content", $"'{at}' has neither 'content' nor 'tool_calls'.", "missing_required_parameter");
        // Clients echo a streamed tool call back with "content": "" beside it; that empty text is not part of the turn.
        if (calls.Count > 0) contents.RemoveAll(c => c is TextContent { Text.Length: 0 });
        return new ChatMessage(ChatRole.Assistant, contents);
    }

    private static ChatMessage ToolResult(RequestMessage m, string at, HashSet<string> callIds)
    {
        if (string.IsNullOrEmpty(m.ToolCallId)) throw RequestError.Missing($"{at}.tool_call_id");
        // A result with no call before it would be rendered as an answer to nothing; OpenAI refuses it too.
        if (!callIds.Contains(m.ToolCallId))
            throw RequestError.Invalid($"{at}.tool_call_id",
                $"'{at}.tool_call_id' is '{m.ToolCallId}', which no earlier assistant message's 'tool_calls' has.");
        string result = string.Concat(TextParts(m.Content, $"{at}.content", required: true).OfType<TextContent>().Select(t => t.Text));
        return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(m.ToolCallId, result)]);
    }

    /// <summary>A string, or an array of <c>{"type":"text","text":...}</c> parts, one <see cref="TextContent"/> each.</summary>
    private static List<AIContent> TextParts(JsonElement? content, string at, bool required)
    {
        switch (content)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return required ? throw RequestError.Missing(at) : [];
            case { ValueKind: JsonValueKind.String } text:
                return [new TextContent(text.GetString())];
            case { ValueKind: JsonValueKind.Array } parts:
                var result = new List<AIContent>();
                int k = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    string partAt = $"{at}[{k++}]";
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                        throw RequestError.Invalid(partAt, $"'{partAt}' must be an object with a 'type'.", "invalid_type");
                    if (type.GetString() != "text")
                        throw RequestError.Invalid($"{partAt}.type",
                            $"Content parts of type '{type.GetString()}' are not supported: the model reads text only.", "unsupported_value");
                    if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                        throw RequestError.Missing($"{partAt}.text");
                    result.Add(new TextContent(text.GetString()));
                }
                return result;
            default:
                throw RequestError.Invalid(at, $"'{at}' must be a string or an array of content parts.", "invalid_type");
        }
    }

    /// <summary>The arguments string must hold a JSON object; its values stay <see cref="JsonElement"/>s.</summary>
    private static Dictionary<string, object?> Arguments(string json, string at)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw RequestError.Invalid(at, $"'{at}' must be a JSON object encoded as a string.", "invalid_type");
            var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
                arguments[property.Name] = property.Value.Clone();   // a repeated name: the last wins, as JSON parsers usually do
            return arguments;
        }
        catch (JsonException e)
        {
            throw RequestError.Invalid(at, $"'{at}' is not valid JSON: {e.Message}", "invalid_json");
        }
    }
}
