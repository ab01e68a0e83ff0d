using Eagle.Samples.WebApi.Contracts;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>: reads the request, maps it to <see cref="IChatClient"/> terms, and answers with one
/// <c>chat.completion</c> or, with <c>stream: true</c>, a stream of <c>chat.completion.chunk</c> events. Tool calls are
/// returned to the HTTP client, which runs them and sends the results back in the next request. Generation stops when
/// the client goes away, the request times out or the server shuts down (<see cref="RequestCancellation"/>).
/// </summary>
internal static partial class ChatCompletionsEndpoint
{
    /// <summary>How long a stream's headers wait for its first update: a refusal comes at once and still gets its status.</summary>
    private static readonly TimeSpan HeaderGrace = TimeSpan.FromSeconds(1);

    public static IEndpointConventionBuilder MapChatCompletions(this IEndpointRouteBuilder app) =>
        app.MapPost("/v1/chat/completions", HandleAsync);

    private static async Task HandleAsync(HttpContext context, [FromServices] ServedModel served, [FromServices] IOptions<ServerOptions> server,
        [FromServices] IHostApplicationLifetime lifetime, [FromServices] ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(ChatCompletionsEndpoint));
        ChatCompletionRequest request;
        IChatClient client;
        List<ChatMessage> messages;
        ChatOptions options;
        try
        {
            request = await JsonRequestReader.ReadAsync(context.Request, OpenAIJsonContext.Default.ChatCompletionRequest).ConfigureAwait(false);
            client = served.Client;
            if (request.Model is { } model && !string.Equals(model, served.Id, StringComparison.Ordinal))
                throw RequestError.ModelNotFound(model, served.Id);
            messages = MessageMapper.ToChatMessages(request.Messages);
            options = OptionsMapper.ToChatOptions(request, served.Id, server.Value);
        }
        catch (RequestError error)
        {
            await RefuseAsync(context.Response, error, logger).ConfigureAwait(false);
            return;
        }

        using var cancellation = new RequestCancellation(context, server.Value.RequestTimeoutSeconds, lifetime.ApplicationStopping);
        if (request.Stream == true)
            await StreamAsync(context, client, request, messages, options, served.Id, cancellation, TimeSpan.FromSeconds(server.Value.KeepAliveSeconds), logger)
                .ConfigureAwait(false);
        else
            await CompleteAsync(context, client, request, messages, options, served.Id, cancellation, logger).ConfigureAwait(false);
    }

    private static async Task CompleteAsync(HttpContext context, IChatClient client, ChatCompletionRequest request,
        List<ChatMessage> messages, ChatOptions options, string modelId, RequestCancellation cancellation, ILogger logger)
    {
        ChatResponse response;
        try
        {
            response = await client.GetResponseAsync(messages, options, cancellation.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (cancellation.Cancelled(e))
        {
            LogCancelled(logger, cancellation.Reason);
            if (!cancellation.ClientGone) await ErrorWriter.WriteAsync(context.Response, cancellation.ToError()).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (ClientErrorMapper.ToRequestError(e, request) is { } error)
        {
            await RefuseAsync(context.Response, error, logger).ConfigureAwait(false);
            return;
        }
        await context.Response.WriteAsJsonAsync(CompletionMapper.ToCompletion(response, modelId), OpenAIJsonContext.Default.ChatCompletion,
            contentType: null, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task StreamAsync(HttpContext context, IChatClient client, ChatCompletionRequest request,
        List<ChatMessage> messages, ChatOptions options, string modelId, RequestCancellation cancellation, TimeSpan keepAlive, ILogger logger)
    {
        var chunks = new ChunkMapper(modelId, request.StreamOptions?.IncludeUsage == true);
        var events = new ServerSentEventWriter(context.Response);
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        Task<bool>? moving = null;

        // The next update, with a keep-alive comment every interval it keeps the stream waiting (queued behind other
        // requests, prefilling a long prompt, or between rounds). Before the first update the headers wait a moment, so
        // that a refusal (a bad option, a full queue) still gets its status and a JSON body; then they go out.
        async Task<bool> NextAsync(IAsyncEnumerator<ChatResponseUpdate> from)
        {
            moving = from.MoveNextAsync().AsTask();
            TimeSpan wait = events.Started ? keepAlive : HeaderGrace < keepAlive ? HeaderGrace : keepAlive;
            while (!moving.IsCompleted)
            {
                try
                {
                    // WaitAsync's timer goes away with the update; a Task.Delay per token would linger for the interval.
                    await moving.WaitAsync(wait).ConfigureAwait(false);
                }
                catch (TimeoutException) when (!moving.IsCompleted)
                {
                    if (events.Started) await events.PingAsync().ConfigureAwait(false);
                    else await events.StartAsync().ConfigureAwait(false);
                    wait = keepAlive;
                }
                catch (Exception) when (moving.IsCompleted)
                {
                    break;   // the update's own failure, thrown below
                }
            }
            bool more = await moving.ConfigureAwait(false);
            moving = null;
            return more;
        }

        try
        {
            // A client may refuse the request as it is made (the engine checks the options then) or at the first update.
            updates = client.GetStreamingResponseAsync(messages, options, cancellation.Token).GetAsyncEnumerator(cancellation.Token);
            for (bool more = await NextAsync(updates).ConfigureAwait(false); more; more = await NextAsync(updates).ConfigureAwait(false))
            {
                if (!events.Started) await events.StartAsync().ConfigureAwait(false);
                foreach (var chunk in chunks.Map(updates.Current))
                    await events.WriteAsync(chunk, OpenAIJsonContext.Default.ChatCompletionChunk).ConfigureAwait(false);
            }
            if (!events.Started) await events.StartAsync().ConfigureAwait(false);
            foreach (var chunk in chunks.Complete())
                await events.WriteAsync(chunk, OpenAIJsonContext.Default.ChatCompletionChunk).ConfigureAwait(false);
            await events.WriteDoneAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (cancellation.Cancelled(e))
        {
            LogCancelled(logger, cancellation.Reason);
            if (!cancellation.ClientGone) await WriteErrorAsync(context, events, cancellation.ToError()).ConfigureAwait(false);
        }
        catch (Exception e) when (ClientErrorMapper.ToRequestError(e, request) is { } error)
        {
            Refused(logger, error);
            await WriteErrorAsync(context, events, error).ConfigureAwait(false);
        }
        catch (Exception e) when (events.Started && !cancellation.ClientGone)
        {
            // The status line is gone already; an error event is how OpenAI tells a streaming client.
            LogStreamFailed(logger, e);
            await events.WriteAsync(new RequestError(StatusCodes.Status500InternalServerError, "The answer failed while streaming; see the server's log.", null, null)
                .ToResponse(), OpenAIJsonContext.Default.ErrorResponse).ConfigureAwait(false);
        }
        finally
        {
            // An update still being awaited (a keep-alive write failed) must end before the enumerator is disposed;
            // the client is gone then, so the generation's token has fired.
            if (moving is not null) await ((Task)moving).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (updates is not null) await updates.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A JSON error with its status before the stream started; an error event after.</summary>
    private static Task WriteErrorAsync(HttpContext context, ServerSentEventWriter events, RequestError error) => events.Started
        ? events.WriteAsync(error.ToResponse(), OpenAIJsonContext.Default.ErrorResponse)
        : ErrorWriter.WriteAsync(context.Response, error);

    private static Task RefuseAsync(HttpResponse response, RequestError error, ILogger logger)
    {
        Refused(logger, error);
        return ErrorWriter.WriteAsync(response, error);
    }

    private static void Refused(ILogger logger, RequestError error)
    {
        LogRefused(logger, error.StatusCode, error.Code, error.Param ?? "none");
        // In remote mode: which server, what it answered (the client was told only what happened).
        if (error.InnerException is Eagle.AI.ChatServerException server) LogModelServerFailed(logger, server.Message);
    }

    [LoggerMessage(4, LogLevel.Warning, "The model server failed a request: {Reason}")]
    private static partial void LogModelServerFailed(ILogger logger, string reason);

    [LoggerMessage(1, LogLevel.Error, "A streaming chat completion failed after its first event")]
    private static partial void LogStreamFailed(ILogger logger, Exception exception);

    // A client's mistake is not the server's: one line at Information, no stack trace, so bad requests cannot flood the log.
    // The field at fault, not the message: messages quote what the client sent (a role, an id, a JSON error's text),
    // and the conversation stays out of the server's logs; the client gets the whole message.
    [LoggerMessage(2, LogLevel.Information, "Refused a chat completion: {StatusCode} {Code} (parameter: {Param})")]
    private static partial void LogRefused(ILogger logger, int statusCode, string? code, string param);

    [LoggerMessage(3, LogLevel.Information, "A chat completion was cancelled: {Reason}")]
    private static partial void LogCancelled(ILogger logger, string reason);
}
