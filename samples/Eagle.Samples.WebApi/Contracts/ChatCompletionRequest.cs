using System.Text.Json;

namespace Eagle.Samples.WebApi.Contracts;

/// <summary>
/// The body of <c>POST /v1/chat/completions</c>: the fields this server reads. Fields whose JSON shape varies
/// (<c>content</c>, <c>stop</c>, <c>tool_choice</c>, <c>response_format</c>) stay <see cref="JsonElement"/>s and are checked by the mappers, so an
/// error can name the exact parameter; unknown fields are ignored, as OpenAI-compatible servers commonly do.
/// </summary>
internal sealed record ChatCompletionRequest
{
    public string? Model { get; init; }
    public IReadOnlyList<RequestMessage?>? Messages { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? MaxTokens { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public JsonElement? Stop { get; init; }
    public long? Seed { get; init; }
    public int? N { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? PresencePenalty { get; init; }
    public IReadOnlyList<RequestTool?>? Tools { get; init; }
    public JsonElement? ToolChoice { get; init; }
    public bool? ParallelToolCalls { get; init; }
    public JsonElement? ResponseFormat { get; init; }
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
}

/// <summary>One entry of <c>messages</c>.</summary>
internal sealed record RequestMessage
{
    public string? Role { get; init; }
    /// <summary>A string, an array of content parts, or null (an assistant message that only calls tools).</summary>
    public JsonElement? Content { get; init; }
    public string? Name { get; init; }
    public IReadOnlyList<RequestToolCall?>? ToolCalls { get; init; }
    public string? ToolCallId { get; init; }
}

/// <summary>A tool call the assistant made earlier in the conversation.</summary>
internal sealed record RequestToolCall
{
    public string? Id { get; init; }
    public string? Type { get; init; }
    public FunctionCall? Function { get; init; }
}

/// <summary>A function call: its name and its arguments as a JSON object encoded in a string.</summary>
internal sealed record FunctionCall
{
    public string? Name { get; init; }
    public string? Arguments { get; init; }
}

/// <summary>One entry of <c>tools</c>.</summary>
internal sealed record RequestTool
{
    public string? Type { get; init; }
    public FunctionDefinition? Function { get; init; }
}

/// <summary>A function offered to the model; <c>parameters</c> is its arguments' JSON schema.</summary>
internal sealed record FunctionDefinition
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public JsonElement? Parameters { get; init; }
}

/// <summary><c>stream_options</c>.</summary>
internal sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}
