namespace Eagle.AI.Engine.Text;

/// <summary>Everything the chat template renders: messages, offered tools and template options.</summary>
/// <param name="Messages">The conversation so far.</param>
/// <param name="Tools">Tools offered to the model; null for none (an empty list still renders the tool preamble, as the template does).</param>
/// <param name="Options">Template options.</param>
internal sealed record ChatConversation(IReadOnlyList<PromptMessage> Messages, IReadOnlyList<PromptTool>? Tools, ChatFormatOptions Options);
