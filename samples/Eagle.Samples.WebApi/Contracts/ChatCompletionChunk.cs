using System.Text.Json.Serialization;

namespace Eagle.Samples.WebApi.Contracts;

/// <summary>One server-sent event of a streaming answer (<c>chat.completion.chunk</c>).</summary>
internal sealed record ChatCompletionChunk
{
    public required string Id { get; init; }
    public string Object { get; init; } = "chat.completion.chunk";
    public required long Created { get; init; }
    public required string Model { get; init; }
    /// <summary>One choice; empty in the closing usage chunk.</summary>
    public required IReadOnlyList<ChunkChoice> Choices { get; init; }
    /// <summary>Only in the usage chunk, sent last when <c>stream_options.include_usage</c> is true.</summary>
    public CompletionUsage? Usage { get; init; }
}

/// <summary>The change to choice 0; <c>finish_reason</c> is null until the finishing chunk.</summary>
internal sealed record ChunkChoice
{
    public int Index { get; init; }
    public required ChunkDelta Delta { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; init; }
}

/// <summary>What this chunk adds: the role (first chunk), text, or tool calls.</summary>
internal sealed record ChunkDelta
{
    public string? Role { get; init; }
    public string? Content { get; init; }
    public IReadOnlyList<ChunkToolCall>? ToolCalls { get; init; }
}

/// <summary>A tool call in a chunk; <c>index</c> tells clients which call a later delta would extend.</summary>
internal sealed record ChunkToolCall
{
    public required int Index { get; init; }
    public required string Id { get; init; }
    public string Type { get; init; } = "function";
    public required FunctionCall Function { get; init; }
}
