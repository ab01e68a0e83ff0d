namespace Eagle.AI.Engine.Text;

/// <summary>
/// The LLaMA-3.0 Instruct chat template: each message as <c>header + trimmed content + &lt;|eot_id|&gt;</c>, BOS before the
/// first one, no default system message. 3.0 has no tool-calling format, so tools and tool messages are rejected.
/// </summary>
internal static class Llama30Template
{
    /// <summary>Writes the conversation into <paramref name="prompt"/>.</summary>
    /// <exception cref="ChatFormatException">The conversation uses tools.</exception>
    public static void Write(PromptBuilder prompt, IReadOnlyList<PromptMessage> messages, IReadOnlyList<PromptTool>? tools, ChatFormatOptions options)
    {
        if (tools is not null || messages.Any(m => m.Role == PromptRole.Tool || m.ToolCalls.Count > 0))
        {
            throw new ChatFormatException("The LLaMA-3.0 chat format has no tool calling; use the 3.1 format for tools, tool calls and tool results.");
        }
        for (int i = 0; i < messages.Count; i++)
        {
            if (i == 0)
            {
                prompt.Special(Llama3SpecialTokens.BeginOfText);
            }
            prompt.Header(Llama31Template.RoleName(messages[i].Role))
                .Text(JinjaFilters.Trim(messages[i].Text))
                .Special(Llama3SpecialTokens.EndOfTurn);
        }
        if (options.AddGenerationPrompt)
        {
            prompt.Header("assistant");
        }
    }
}
