using System.Text.Json;
using Eagle.Samples.WebApi.Contracts;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>: reads the request, maps it to <see cref="IChatClient"/> terms, and answers with one
/// <c>chat.completion</c> or, with <c>stream: true</c>, a stream of <c>chat.completion.chunk</c> events. Tool calls are
/// returned to the HTTP client, which runs them and sends the results back in the next request.
/// </summary>
internal static partial class ChatCompletionsEndpoint
{
    public static IEndpointConventionBuilder MapChatCompletions(this IEndpointRouteBuilder app) =>
        app.MapPost("/v1/chat/completions", HandleAsync);

    private static async Task HandleAsync(HttpContext context, [FromServices] IChatClient client, [FromServices] ServedModel served,
        [FromServices] ILoggerFactory loggers)
    {
        ChatCompletionRequest request;
        List<ChatMessage> messages;
        ChatOptions options;
        try
        {
            request = await ReadAsync(context.Request).ConfigureAwait(false);
            if (request.Model is { } model && !string.Equals(model, served.Id, StringComparison.Ordinal))
                throw RequestError.ModelNotFound(model, served.Id);
            messages = MessageMapper.ToChatMessages(request.Messages);
            options = OptionsMapper.ToChatOptions(request, served.Id);
        }
        catch (RequestError error)
        {
            await ErrorWriter.WriteAsync(context.Response, error).ConfigureAwait(false);
            return;
        }

        if (request.Stream == true)
            await StreamAsync(context, client, request, messages, options, served.Id, loggers.CreateLogger(typeof(ChatCompletionsEndpoint)))
                .ConfigureAwait(false);
        else
            await CompleteAsync(context, client, request, messages, options, served.Id).ConfigureAwait(false);
    }

    private static async Task<ChatCompletionRequest> ReadAsync(HttpRequest http)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync(http.Body, OpenAIJsonContext.Default.ChatCompletionRequest, http.HttpContext.RequestAborted)
                .ConfigureAwait(false) ?? throw new RequestError("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            // A value of the wrong type: its path (e.g. "$.messages[0].role") names the field. Malformed JSON (the reader's
            // error, a JsonException too, is the inner one) has no field at fault.
            string? param = e.InnerException is not JsonException && e.Path is { Length: > 2 } path ? path[2..] : null;
            throw new RequestError(StatusCodes.Status400BadRequest, $"The request body is not valid: {e.Message}", param, "invalid_json");
        }
    }

    private static async Task CompleteAsync(HttpContext context, IChatClient client, ChatCompletionRequest request,
        List<ChatMessage> messages, ChatOptions options, string modelId)
    {
        ChatResponse response;
        try
        {
            response = await client.GetResponseAsync(messages, options, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (ClientErrorMapper.ToRequestError(e, request) is { } error)
        {
            await ErrorWriter.WriteAsync(context.Response, error).ConfigureAwait(false);
            return;
        }
        await context.Response.WriteAsJsonAsync(CompletionMapper.ToCompletion(response, modelId), OpenAIJsonContext.Default.ChatCompletion,
            contentType: null, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task StreamAsync(HttpContext context, IChatClient client, ChatCompletionRequest request,
        List<ChatMessage> messages, ChatOptions options, string modelId, ILogger logger)
    {
        var chunks = new ChunkMapper(modelId, request.StreamOptions?.IncludeUsage == true);
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            bool more;
            try
            {
                // The first update is awaited before the headers go out, so a refused request still gets a JSON 400.
                updates = client.GetStreamingResponseAsync(messages, options, context.RequestAborted).GetAsyncEnumerator(context.RequestAborted);
                more = await updates.MoveNextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (ClientErrorMapper.ToRequestError(e, request) is { } error)
            {
                await ErrorWriter.WriteAsync(context.Response, error).ConfigureAwait(false);
                return;
            }

            var events = new ServerSentEventWriter(context.Response);
            await events.StartAsync().ConfigureAwait(false);
            try
            {
                for (; more; more = await updates.MoveNextAsync().ConfigureAwait(false))
                {
                    foreach (var chunk in chunks.Map(updates.Current))
                        await events.WriteAsync(chunk, OpenAIJsonContext.Default.ChatCompletionChunk).ConfigureAwait(false);
                }
                foreach (var chunk in chunks.Complete())
                    await events.WriteAsync(chunk, OpenAIJsonContext.Default.ChatCompletionChunk).ConfigureAwait(false);
                await events.WriteDoneAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
            {
                // The status line is gone already; an error event is how OpenAI tells a streaming client.
                LogStreamFailed(logger, e);
                var error = ClientErrorMapper.ToRequestError(e, request)
                    ?? new RequestError(StatusCodes.Status500InternalServerError, "The answer failed while streaming; see the server's log.", null, null);
                await events.WriteAsync(error.ToResponse(), OpenAIJsonContext.Default.ErrorResponse).ConfigureAwait(false);
            }
        }
        finally
        {
            if (updates is not null) await updates.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(1, LogLevel.Error, "A streaming chat completion failed after its first event")]
    private static partial void LogStreamFailed(ILogger logger, Exception exception);
}
