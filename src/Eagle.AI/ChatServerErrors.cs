using System.ClientModel;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Eagle.AI;

/// <summary>
/// The outermost link of the remote client: turns what the OpenAI client and the HTTP stack throw
/// (<see cref="ClientResultException"/>, <see cref="HttpRequestException"/>, a broken stream's <see cref="IOException"/>,
/// timeouts, an open circuit) into one <see cref="ChatServerException"/> naming the endpoint and the status, so an
/// application catches one type whatever failed. The caller's own cancellation passes through unchanged.
/// </summary>
internal sealed class ChatServerErrors(IChatClient inner, Uri endpoint, TimeSpan requestTimeout) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, cancellationToken) is { } server)
        {
            throw server;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (updates.ConfigureAwait(false))
        {
            while (true)
            {
                // A yield cannot sit in a try with a catch, so only the read of the next update is guarded.
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false)) yield break;
                }
                catch (Exception e) when (Translate(e, cancellationToken) is { } server)
                {
                    throw server;
                }
                yield return updates.Current;
            }
        }
    }

    /// <summary>The <see cref="ChatServerException"/> for <paramref name="e"/>, or null to let it through.</summary>
    internal ChatServerException? Translate(Exception e, CancellationToken cancellationToken)
    {
        if (e is ChatServerException || (e is OperationCanceledException && cancellationToken.IsCancellationRequested))
            return null;
        string at = endpoint.OriginalString;
        return e switch
        {
            ClientResultException { Status: > 0 } result => Answered(result, at),
            TimeoutRejectedException or TimeoutException or OperationCanceledException => new ChatServerException(
                $"The chat server at {at} did not answer within EagleOptions.RequestTimeout ({requestTimeout}).", endpoint, null, HttpRequestError.Unknown, e),
            BrokenCircuitException => new ChatServerException(
                $"Requests to the chat server at {at} are paused after repeated failures (the resilience handler's circuit is open): {e.Message}",
                endpoint, null, HttpRequestError.Unknown, e),
            HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } or IOException => new ChatServerException(
                $"The connection to the chat server at {at} broke off before the answer was complete: {e.Message}",
                endpoint, null, HttpRequestError.ResponseEnded, e),
            HttpRequestException http => new ChatServerException(
                $"The chat server at {at} could not be reached: {http.Message}", endpoint, null, http.HttpRequestError, e),
            ClientResultException => new ChatServerException(
                $"The chat server at {at} could not be reached: {e.Message}", endpoint, null, HttpRequestError.Unknown, e),
            _ => null,
        };
    }

    private ChatServerException Answered(ClientResultException result, string at)
    {
        var response = result.GetRawResponse();
        string reason = string.IsNullOrEmpty(response?.ReasonPhrase) ? ((HttpStatusCode)result.Status).ToString() : response.ReasonPhrase;
        string detail = ServerMessage(response) ?? result.Message;
        string hint = result.Status switch
        {
            401 or 403 => " Check EagleOptions.ApiKey.",
            404 => " Check that EagleOptions.Endpoint is the API's base address (usually ending in /v1) and EagleOptions.ModelId a model the server serves.",
            _ => "",
        };
        return new ChatServerException(
            string.Create(CultureInfo.InvariantCulture, $"The chat server at {at} answered {result.Status} ({reason}): {detail}{hint}"),
            endpoint, (HttpStatusCode)result.Status, HttpRequestError.Unknown, result);
    }

    // The error's own message: OpenAI's {"error": {"message": …}}, or vLLM's and SGLang's {"object": "error", "message": …}.
    private static string? ServerMessage(System.ClientModel.Primitives.PipelineResponse? response)
    {
        try
        {
            if (response?.Content is not { } content) return null;
            using var json = JsonDocument.Parse(content.ToMemory());
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("message", out var nested) && nested.ValueKind == JsonValueKind.String)
                return nested.GetString();
            return root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String ? message.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;   // not JSON, or a streamed body that was not buffered: the exception's own message is used
        }
    }
}
