using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// Reads conversations in the OpenAI chat shape used by <c>llama3_1-reference-prompts.json</c>:
/// <c>{"messages": [...], "tools": [...], "vars": {...}}</c>. Messages have a <c>role</c> (system, user, assistant, tool or
/// ipython) and <c>content</c>; assistant messages may have <c>tool_calls</c> whose <c>function.arguments</c> is an object
/// or a JSON string. Supported <c>vars</c>: <c>tools_in_user_message</c>, <c>date_string</c>, <c>add_generation_prompt</c>.
/// Other top-level keys (such as <c>name</c> or <c>rendered</c>) are ignored.
/// </summary>
internal static class ConversationJson
{
    /// <summary>
    /// Parses a JSON array of conversations, a single conversation object, or a plain OpenAI <c>messages</c> array (an
    /// array whose items have a <c>role</c>: one conversation with <paramref name="defaults"/>).
    /// </summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="defaults">Options that <c>vars</c> override; <see cref="ChatFormatOptions.Default"/> when null.</param>
    /// <exception cref="FormatException">The text is not valid JSON or not in the expected shape; the message says where.</exception>
    public static IReadOnlyList<ChatConversation> ParseConversations(string json, ChatFormatOptions? defaults = null)
    {
        using var document = ParseDocument(json);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0 && root[0].ValueKind == JsonValueKind.Object
            && root[0].TryGetProperty("role", out _) && !root[0].TryGetProperty("messages", out _))
            return [new ChatConversation(ParseMessages(root, "$"), null, defaults ?? ChatFormatOptions.Default)];
        return root.ValueKind == JsonValueKind.Array
            ? root.EnumerateArray().Select((c, i) => ParseConversation(c, defaults, $"[{i}]")).ToArray()
            : [ParseConversation(root, defaults, "$")];
    }

    /// <summary>Parses one conversation object.</summary>
    /// <param name="conversation">The object with <c>messages</c>, optional <c>tools</c> and <c>vars</c>.</param>
    /// <param name="defaults">Options that <c>vars</c> override; <see cref="ChatFormatOptions.Default"/> when null.</param>
    /// <exception cref="FormatException">The object is not in the expected shape.</exception>
    public static ChatConversation ParseConversation(JsonElement conversation, ChatFormatOptions? defaults = null) =>
        ParseConversation(conversation, defaults, "$");

    /// <summary>Parses an OpenAI-shaped <c>messages</c> array.</summary>
    /// <param name="messages">The array.</param>
    /// <exception cref="FormatException">A message is not in the expected shape.</exception>
    public static IReadOnlyList<PromptMessage> ParseMessages(JsonElement messages) => ParseMessages(messages, "messages");

    /// <summary>Parses an OpenAI-shaped <c>tools</c> array (<c>{"type": "function", "function": {…}}</c> objects).</summary>
    /// <param name="tools">The array.</param>
    /// <exception cref="FormatException">A tool is not a JSON object.</exception>
    public static IReadOnlyList<PromptTool> ParseTools(JsonElement tools) => ParseTools(tools, "tools");

    private static ChatConversation ParseConversation(JsonElement conversation, ChatFormatOptions? defaults, string where)
    {
        Expect(conversation, JsonValueKind.Object, where);
        if (!conversation.TryGetProperty("messages", out var messages))
        {
            throw new FormatException($"{where}: a conversation needs a 'messages' array.");
        }
        IReadOnlyList<PromptTool>? tools = conversation.TryGetProperty("tools", out var toolsElement) && toolsElement.ValueKind != JsonValueKind.Null
            ? ParseTools(toolsElement, $"{where}.tools")
            : null;
        var options = conversation.TryGetProperty("vars", out var vars) && vars.ValueKind != JsonValueKind.Null
            ? ParseVars(vars, defaults ?? ChatFormatOptions.Default, $"{where}.vars")
            : defaults ?? ChatFormatOptions.Default;
        return new ChatConversation(ParseMessages(messages, $"{where}.messages"), tools, options);
    }

    private static IReadOnlyList<PromptMessage> ParseMessages(JsonElement messages, string where)
    {
        Expect(messages, JsonValueKind.Array, where);
        return messages.EnumerateArray().Select((m, i) => ParseMessage(m, $"{where}[{i}]")).ToArray();
    }

    private static PromptMessage ParseMessage(JsonElement message, string where)
    {
        Expect(message, JsonValueKind.Object, where);
        string role = message.TryGetProperty("role", out var roleElement) && roleElement.ValueKind == JsonValueKind.String
            ? roleElement.GetString()!
            : throw new FormatException($"{where}: a message needs a string 'role'.");
        bool hasContent = message.TryGetProperty("content", out var content) && content.ValueKind != JsonValueKind.Null;

        switch (role)
        {
            case "system":
                return PromptMessage.System(ReadText(content, hasContent, required: true, $"{where}.content"));
            case "user":
                return PromptMessage.User(ReadText(content, hasContent, required: true, $"{where}.content"));
            case "assistant":
                if (message.TryGetProperty("tool_calls", out var toolCalls) && toolCalls.ValueKind == JsonValueKind.Array
                    && toolCalls.GetArrayLength() > 0)
                {
                    return PromptMessage.AssistantToolCalls(
                        toolCalls.EnumerateArray().Select((c, i) => ParseToolCall(c, $"{where}.tool_calls[{i}]")).ToArray());
                }
                return PromptMessage.Assistant(ReadText(content, hasContent, required: false, $"{where}.content"));
            case "tool" or "ipython":
                return hasContent
                    ? PromptMessage.Tool(content)
                    : throw new FormatException($"{where}: a {role} message needs 'content'.");
            default:
                throw new FormatException($"{where}: role '{role}' is not one of system, user, assistant, tool, ipython.");
        }
    }

    /// <summary>A string, or an array of OpenAI text parts joined with new lines (as vLLM does).</summary>
    private static string ReadText(JsonElement content, bool hasContent, bool required, string where)
    {
        if (!hasContent)
        {
            return required ? throw new FormatException($"{where}: missing.") : "";
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind == JsonValueKind.Array && content.EnumerateArray().All(IsTextPart))
        {
            return string.Join("\n", content.EnumerateArray().Select(p => p.GetProperty("text").GetString()));
        }
        throw new FormatException($"{where}: expected a string or an array of {{\"type\": \"text\", \"text\": …}} parts.");
    }

    private static bool IsTextPart(JsonElement part) =>
        part.ValueKind == JsonValueKind.Object
        && part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "text"
        && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String;

    private static PromptToolCall ParseToolCall(JsonElement call, string where)
    {
        Expect(call, JsonValueKind.Object, where);
        if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
            || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"{where}: a tool call needs 'function.name'.");
        }
        if (!function.TryGetProperty("arguments", out var arguments) || arguments.ValueKind == JsonValueKind.Null)
        {
            using var empty = JsonDocument.Parse("{}");
            return new PromptToolCall(name.GetString()!, empty.RootElement);
        }
        if (arguments.ValueKind != JsonValueKind.String)
        {
            return new PromptToolCall(name.GetString()!, arguments);
        }
        // OpenAI sends arguments as a JSON string; servers parse it before applying the template.
        try
        {
            using var parsed = JsonDocument.Parse(arguments.GetString()!);
            return new PromptToolCall(name.GetString()!, parsed.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{where}.function.arguments: the string is not valid JSON: {e.Message}", e);
        }
    }

    private static IReadOnlyList<PromptTool> ParseTools(JsonElement tools, string where)
    {
        Expect(tools, JsonValueKind.Array, where);
        return tools.EnumerateArray().Select((t, i) => new PromptTool(Expect(t, JsonValueKind.Object, $"{where}[{i}]"))).ToArray();
    }

    private static ChatFormatOptions ParseVars(JsonElement vars, ChatFormatOptions options, string where)
    {
        Expect(vars, JsonValueKind.Object, where);
        foreach (var variable in vars.EnumerateObject())
        {
            string at = $"{where}.{variable.Name}";
            options = variable.Name switch
            {
                "tools_in_user_message" => options with { ToolsInUserMessage = ReadBool(variable.Value, at) },
                "add_generation_prompt" => options with { AddGenerationPrompt = ReadBool(variable.Value, at) },
                "date_string" => options with
                {
                    DateString = variable.Value.ValueKind == JsonValueKind.String
                        ? variable.Value.GetString()!
                        : throw new FormatException($"{at}: expected a string."),
                },
                // Rejecting the rest (e.g. builtin_tools) beats rendering a prompt that silently differs from the template.
                _ => throw new FormatException(
                    $"{at}: unsupported template variable; supported: tools_in_user_message, date_string, add_generation_prompt."),
            };
        }
        return options;
    }

    private static bool ReadBool(JsonElement value, string where) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FormatException($"{where}: expected true or false."),
    };

    private static JsonElement Expect(JsonElement element, JsonValueKind kind, string where) =>
        element.ValueKind == kind
            ? element
            : throw new FormatException($"{where}: expected a JSON {kind.ToString().ToLowerInvariant()}, found {element.ValueKind.ToString().ToLowerInvariant()}.");

    private static JsonDocument ParseDocument(string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"invalid JSON: {e.Message}", e);
        }
    }
}
