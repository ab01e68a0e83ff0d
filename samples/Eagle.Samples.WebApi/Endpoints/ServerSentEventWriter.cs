using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// Writes a <c>text/event-stream</c> the way OpenAI streams: each event is one <c>data: {json}</c> line and a blank
/// line, flushed at once so the client sees every token as it comes; the stream ends with <c>data: [DONE]</c>. While it
/// waits, a comment line (<c>: keep-alive</c>, which SSE clients skip) keeps proxies and clients from cutting it.
/// </summary>
internal sealed class ServerSentEventWriter(HttpResponse response)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();

    /// <summary>Whether the status line and headers are out (after which errors go as events).</summary>
    public bool Started => response.HasStarted;

    public Task StartAsync()
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return response.StartAsync(response.HttpContext.RequestAborted);
    }

    public async Task WriteAsync<T>(T value, JsonTypeInfo<T> type)
    {
        var writer = response.BodyWriter;
        writer.Write(DataPrefix);
        // Serialized JSON holds no raw newline, so one data line carries the whole event.
        writer.Write(JsonSerializer.SerializeToUtf8Bytes(value, type));
        writer.Write(EventEnd);
        await writer.FlushAsync(response.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    public async Task WriteDoneAsync()
    {
        response.BodyWriter.Write(Done);
        await response.BodyWriter.FlushAsync(response.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    public async Task PingAsync()
    {
        response.BodyWriter.Write(KeepAlive);
        await response.BodyWriter.FlushAsync(response.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
