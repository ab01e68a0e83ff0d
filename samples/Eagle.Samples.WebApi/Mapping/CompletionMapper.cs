using System.Text.Json;
using Eagle.Samples.WebApi.Contracts;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary><see cref="ChatResponse"/> → <c>chat.completion</c>, and the pieces streaming shares with it.</summary>
internal static class CompletionMapper
{
    // OpenAI sends arguments as compact JSON; the MEAI defaults indent.
    private static readonly JsonSerializerOptions CompactJson = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    public static ChatCompletion ToCompletion(ChatResponse response, string modelId)
    {
        var contents = response.Messages.Where(m => m.Role == ChatRole.Assistant).SelectMany(m => m.Contents).ToList();
        string text = string.Concat(contents.OfType<TextContent>().Select(t => t.Text));
        var calls = contents.OfType<FunctionCallContent>().Select(ToToolCall).ToList();
        return new ChatCompletion
        {
            Id = CompletionId(response.ResponseId),
            Created = UnixSeconds(response.CreatedAt),
            Model = response.ModelId ?? modelId,
            Choices =
            [
                new CompletionChoice
                {
                    Message = new AssistantMessage
                    {
                        // OpenAI sends null content beside tool calls, and "" for an empty text answer.
                        Content = calls.Count > 0 && text.Length == 0 ? null : text,
                        ToolCalls = calls.Count > 0 ? calls : null,
                    },
                    FinishReason = ToFinishReason(response.FinishReason, calls.Count > 0),
                },
            ],
            Usage = ToUsage(response.Usage) ?? new CompletionUsage(),
        };
    }

    /// <summary>OpenAI's finish reasons; a client that gives none finished normally (or with tool calls).</summary>
    public static string ToFinishReason(ChatFinishReason? reason, bool hasToolCalls) =>
        reason == ChatFinishReason.Length ? "length"
        : reason == ChatFinishReason.ToolCalls || (reason is null && hasToolCalls) ? "tool_calls"
        : reason == ChatFinishReason.ContentFilter ? "content_filter"
        : "stop";

    public static CompletionUsage? ToUsage(UsageDetails? usage) => usage is null ? null : new CompletionUsage
    {
        PromptTokens = usage.InputTokenCount ?? 0,
        CompletionTokens = usage.OutputTokenCount ?? 0,
        TotalTokens = usage.TotalTokenCount ?? (usage.InputTokenCount ?? 0) + (usage.OutputTokenCount ?? 0),
        PromptTokensDetails = new PromptTokensDetails { CachedTokens = usage.CachedInputTokenCount ?? 0 },
    };

    public static ToolCall ToToolCall(FunctionCallContent call) => new()
    {
        Id = call.CallId,
        Function = new FunctionCall { Name = call.Name, Arguments = ArgumentsJson(call) },
    };

    /// <summary>The arguments as the JSON-object string OpenAI clients parse.</summary>
    public static string ArgumentsJson(FunctionCallContent call) =>
        JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(),
            CompactJson.GetTypeInfo(typeof(IDictionary<string, object?>)));

    public static string CompletionId(string? responseId) => "chatcmpl-" + (responseId ?? Guid.NewGuid().ToString("N"));

    public static long UnixSeconds(DateTimeOffset? time) => (time ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
}
