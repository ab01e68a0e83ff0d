using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// The LLaMA-3.1 Instruct chat template (HF <c>tokenizer_config.json</c>, JSON tool calling), rewritten step for step.
/// Built-in tools (<c>builtin_tools</c>, <c>&lt;|eom_id|&gt;</c>, <c>brave_search.call(…)</c>) are not supported.
/// </summary>
internal static class Llama31Template
{
    private const string UserToolInstruction =
        "Given the following functions, please respond with a JSON for a function call "
        + "with its proper arguments that best answers the given prompt.\n\n"
        + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
        + "Do not use variables.\n\n";

    private const string SystemToolInstruction =
        "You have access to the following functions. To call a function, please respond with JSON for a function call."
        + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
        + "Do not use variables.\n\n";

    /// <summary>Writes the conversation into <paramref name="prompt"/>.</summary>
    /// <exception cref="ChatFormatException">The template cannot render the conversation.</exception>
    public static void Write(PromptBuilder prompt, IReadOnlyList<PromptMessage> messages, IReadOnlyList<PromptTool>? tools, ChatFormatOptions options)
    {
        if (messages.Count == 0)
        {
            // The template reads messages[0] unconditionally.
            throw new ChatFormatException("The LLaMA-3.1 chat template needs at least one message.");
        }
        int next = 0;
        string systemMessage = "";
        if (messages.Count > 0 && messages[0].Role == PromptRole.System)
        {
            systemMessage = JinjaFilters.Trim(messages[0].Text);
            next = 1;
        }

        prompt.Special(Llama3SpecialTokens.BeginOfText).Header("system");
        if (tools is not null)
        {
            prompt.Text("Environment: ipython\n");
        }
        prompt.Text("Cutting Knowledge Date: December 2023\n").Text($"Today Date: {options.DateString}\n\n");
        if (tools is not null && !options.ToolsInUserMessage)
        {
            WriteTools(prompt.Text(SystemToolInstruction), tools);
        }
        prompt.Text(systemMessage).Special(Llama3SpecialTokens.EndOfTurn);

        if (tools is not null && options.ToolsInUserMessage)
        {
            if (next == messages.Count)
            {
                throw new ChatFormatException("Cannot put tools in the first user message when there's no first user message!");
            }
            // The template takes whatever message comes next; anything but user text would be silently mislabelled.
            var first = messages[next++];
            if (first.Role != PromptRole.User)
            {
                throw new ChatFormatException(
                    $"Tools go in the first user message, but the first message after the system message is {first.Role}, not User.");
            }
            prompt.Header("user").Text(UserToolInstruction);
            WriteTools(prompt, tools);
            prompt.Text(JinjaFilters.Trim(first.Text)).Special(Llama3SpecialTokens.EndOfTurn);
        }

        for (; next < messages.Count; next++)
        {
            WriteMessage(prompt, messages[next]);
        }
        if (options.AddGenerationPrompt)
        {
            prompt.Header("assistant");
        }
    }

    private static void WriteMessage(PromptBuilder prompt, PromptMessage message)
    {
        if (message.Role == PromptRole.Tool)
        {
            // `content is mapping or content is iterable` is true for strings too, so string results are JSON-quoted.
            var result = message.ToolResult!.Value;
            string text = result.ValueKind is JsonValueKind.Object or JsonValueKind.Array
                or JsonValueKind.String
                ? JinjaFilters.ToJson(result)
                : JinjaFilters.ToText(result);
            prompt.Header("ipython").Text(text).Special(Llama3SpecialTokens.EndOfTurn);
            return;
        }
        if (message.ToolCalls.Count > 0)
        {
            // The template allows one call per message; several calls become consecutive assistant turns.
            foreach (var call in message.ToolCalls)
            {
                prompt.Header("assistant")
                    .Text($"{{\"name\": \"{call.Name}\", \"parameters\": {JinjaFilters.ToJson(call.Arguments)}}}")
                    .Special(Llama3SpecialTokens.EndOfTurn);
            }
            return;
        }
        prompt.Header(RoleName(message.Role)).Text(JinjaFilters.Trim(message.Text)).Special(Llama3SpecialTokens.EndOfTurn);
    }

    private static void WriteTools(PromptBuilder prompt, IReadOnlyList<PromptTool> tools)
    {
        foreach (var tool in tools)
        {
            prompt.Text(JinjaFilters.ToJson(tool.Definition, indent: 4)).Text("\n\n");
        }
    }

    /// <summary>The header name of a text message's role.</summary>
    public static string RoleName(PromptRole role) => role switch
    {
        PromptRole.System => "system",
        PromptRole.User => "user",
        PromptRole.Assistant => "assistant",
        _ => "ipython",
    };
}
