using System.Text.Json.Serialization;

namespace Eagle.Samples.WebApi.Contracts;

/// <summary>The <c>chat.completion</c> object: the whole answer of a non-streaming request.</summary>
internal sealed record ChatCompletion
{
    public required string Id { get; init; }
    public string Object { get; init; } = "chat.completion";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required IReadOnlyList<CompletionChoice> Choices { get; init; }
    public CompletionUsage? Usage { get; init; }
}

/// <summary>The one choice this server returns (<c>n</c> is always 1).</summary>
internal sealed record CompletionChoice
{
    public int Index { get; init; }
    public required AssistantMessage Message { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; init; }
}

/// <summary>The assistant's message: text, or tool calls (then <c>content</c> is null, as OpenAI writes it).</summary>
internal sealed record AssistantMessage
{
    public string Role { get; init; } = "assistant";
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Content { get; init; }
    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }
}

/// <summary>A tool call the model asks the client to run.</summary>
internal sealed record ToolCall
{
    public required string Id { get; init; }
    public string Type { get; init; } = "function";
    public required FunctionCall Function { get; init; }
}

/// <summary>Token counts of one request.</summary>
internal sealed record CompletionUsage
{
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public long TotalTokens { get; init; }
    /// <summary>Breakdown of the prompt tokens: those served from the engine's prefix cache, as OpenAI reports cached tokens.</summary>
    public PromptTokensDetails? PromptTokensDetails { get; init; }
}

/// <summary><c>usage.prompt_tokens_details</c>.</summary>
internal sealed record PromptTokensDetails
{
    public long CachedTokens { get; init; }
}
