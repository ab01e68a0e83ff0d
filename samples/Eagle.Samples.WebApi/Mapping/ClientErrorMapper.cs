using Eagle.Samples.WebApi.Contracts;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// What the chat client refuses → a 400 naming the request field (a 429 when the engine is full; in remote mode, what
/// the model server answered, as a gateway relays it). <see cref="IChatClient"/> implementations signal bad
/// input with <see cref="ArgumentException"/>s whose <c>ParamName</c> is a <see cref="ChatOptions"/> property (or an
/// option key such as <c>eagle.tree_depth</c>), and <see cref="NotSupportedException"/> for input the model cannot read.
/// </summary>
internal static class ClientErrorMapper
{
    /// <summary>The 400 (or 429) for <paramref name="exception"/>, or null when it is not about the request.</summary>
    public static RequestError? ToRequestError(Exception exception, ChatCompletionRequest request) => exception switch
    {
        ArgumentException e => FromArgument(e, ToRequestParam(e.ParamName, request)),
        // A schema the engine cannot enforce: the response format's, else a required tool's parameters.
        Eagle.AI.Engine.Constraints.UnsupportedSchemaException e => new RequestError(StatusCodes.Status400BadRequest, e.Message,
            request.ResponseFormat is { ValueKind: System.Text.Json.JsonValueKind.Object } ? "response_format" : "tools", "unsupported_value"),
        NotSupportedException e => new RequestError(StatusCodes.Status400BadRequest, e.Message, "messages", "unsupported_value"),
        // Every batch slot runs and the queue is full: the client should come back later, not wait without bound.
        Eagle.AI.EngineBusyException e => new RequestError(StatusCodes.Status429TooManyRequests, e.Message, null, "rate_limit_exceeded") { RetryAfter = e.RetryAfter },
        Eagle.AI.ChatServerException e => FromModelServer(e),
        _ => null,
    };

    /// <summary>
    /// In remote mode the sample is a gateway in front of the model server, and answers as one: the server busy → 429
    /// (after the client library's own retries), the request refused → 400, the server failing or unreachable → 502,
    /// silent past the timeout → 504. The server's address and its own words stay in this server's log (the error's
    /// inner exception); the client learns what happened, not where.
    /// </summary>
    private static RequestError FromModelServer(Eagle.AI.ChatServerException e) => (int?)e.StatusCode switch
    {
        429 => new(StatusCodes.Status429TooManyRequests, "The model server is busy; try again later.", null, "rate_limit_exceeded", e)
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        },
        400 or 413 or 422 => new(StatusCodes.Status400BadRequest, "The model server refused the request.", null, "invalid_request_error", e),
        null when e.InnerException is TimeoutException or Polly.Timeout.TimeoutRejectedException or OperationCanceledException =>
            new(StatusCodes.Status504GatewayTimeout, "The model server did not answer in time.", null, "upstream_timeout", e),
        _ => new(StatusCodes.Status502BadGateway, "The model server failed the request; see this server's log.", null, "upstream_error", e),
    };

    private static RequestError FromArgument(ArgumentException e, string? param) =>
        new(StatusCodes.Status400BadRequest, Plain(e), param, ToCode(e, param));

    /// <summary>
    /// The message without what .NET appends for developers: <c> (Parameter 'TopP')</c> and, out of range,
    /// <c>Actual value was 0.</c> on a new line. The client named no <c>TopP</c>; <c>param</c> names its field.
    /// </summary>
    private static string Plain(ArgumentException e)
    {
        string message = e.Message;
        int cut = e.ParamName is { } name ? message.LastIndexOf($" (Parameter '{name}')", StringComparison.Ordinal) : -1;
        return cut >= 0 ? message[..cut] : message.Split('\n')[0];
    }

    // OpenAI's code for a prompt that leaves no room lets clients (e.g. agent frameworks that trim history) recognise it.
    private static string? ToCode(ArgumentException e, string? param) =>
        e is Eagle.AI.ContextLengthExceededException ? "context_length_exceeded"
        : e is ArgumentOutOfRangeException ? "invalid_value"
        : null;

    private static string? ToRequestParam(string? paramName, ChatCompletionRequest request) => paramName switch
    {
        nameof(ChatOptions.Temperature) => "temperature",
        nameof(ChatOptions.TopP) => "top_p",
        nameof(ChatOptions.MaxOutputTokens) => request.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens",
        nameof(ChatOptions.StopSequences) => "stop",
        nameof(ChatOptions.Seed) => "seed",
        nameof(ChatOptions.ToolMode) => "tool_choice",
        nameof(ChatOptions.Tools) => "tools",
        nameof(ChatOptions.AllowMultipleToolCalls) => "parallel_tool_calls",
        nameof(ChatOptions.FrequencyPenalty) => "frequency_penalty",
        nameof(ChatOptions.PresencePenalty) => "presence_penalty",
        nameof(ChatOptions.ModelId) => "model",
        "messages" => "messages",
        // Options the request cannot set (TopK, provider keys) are named as the client named them.
        _ => paramName,
    };
}
