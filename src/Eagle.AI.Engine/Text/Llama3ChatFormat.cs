namespace Eagle.AI.Engine.Text;

/// <summary>
/// Formats conversations byte-identically to the official LLaMA-3.0 / 3.1 Instruct chat templates, and produces the
/// prompt ids segment by segment (special ids placed here, text encoded as plain text) rather than by encoding the
/// rendered string, so message content can never inject special tokens.
/// </summary>
public sealed class Llama3ChatFormat
{
    private readonly Llama3Tokenizer _tokenizer;

    /// <summary>Creates a formatter that encodes with <paramref name="tokenizer"/>.</summary>
    /// <param name="tokenizer">The LLaMA-3 tokenizer.</param>
    public Llama3ChatFormat(Llama3Tokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>Formats a conversation.</summary>
    /// <param name="conversation">Messages, tools and options.</param>
    /// <exception cref="ChatFormatException">The template cannot render the conversation.</exception>
    internal ChatPrompt Format(ChatConversation conversation) =>
        Format(conversation.Messages, conversation.Tools, conversation.Options);

    /// <summary>Formats messages, with optional tools.</summary>
    /// <param name="messages">The conversation so far.</param>
    /// <param name="tools">Tools offered to the model; null for none.</param>
    /// <param name="options">Template options; <see cref="ChatFormatOptions.Default"/> when null.</param>
    /// <exception cref="ChatFormatException">The template cannot render the conversation.</exception>
    public ChatPrompt Format(IReadOnlyList<PromptMessage> messages, IReadOnlyList<PromptTool>? tools = null, ChatFormatOptions? options = null)
    {
        var segments = BuildSegments(messages, tools, options ?? ChatFormatOptions.Default);
        return new ChatPrompt(PromptBuilder.Render(segments), PromptBuilder.Encode(segments, _tokenizer));
    }

    /// <summary>Renders messages as the official template does, without encoding them.</summary>
    /// <param name="messages">The conversation so far.</param>
    /// <param name="tools">Tools offered to the model; null for none.</param>
    /// <param name="options">Template options; <see cref="ChatFormatOptions.Default"/> when null.</param>
    /// <exception cref="ChatFormatException">The template cannot render the conversation.</exception>
    public static string Render(IReadOnlyList<PromptMessage> messages, IReadOnlyList<PromptTool>? tools = null, ChatFormatOptions? options = null) =>
        PromptBuilder.Render(BuildSegments(messages, tools, options ?? ChatFormatOptions.Default));

    private static IReadOnlyList<PromptSegment> BuildSegments(
        IReadOnlyList<PromptMessage> messages, IReadOnlyList<PromptTool>? tools, ChatFormatOptions options)
    {
        var prompt = new PromptBuilder();
        if (options.Version == ChatFormatVersion.Llama30)
        {
            Llama30Template.Write(prompt, messages, tools, options);
        }
        else
        {
            Llama31Template.Write(prompt, messages, tools, options);
        }
        return prompt.Build();
    }
}
