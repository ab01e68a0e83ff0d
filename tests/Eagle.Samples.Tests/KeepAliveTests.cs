using System.Net;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

/// <summary>A stream that waits (queued, or between tokens) gets its headers at once and keep-alive comments, over real HTTP.</summary>
public sealed class KeepAliveTests
{
    private const string SlowStream = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + ScriptedChatClient.Slow + "\"}],\"stream\":true}";

    [Fact]
    public async Task A_waiting_stream_has_its_headers_before_its_first_token_and_comments_while_it_waits()
    {
        using var server = ScriptedServer.OnLoopback("Server:KeepAliveSeconds=0.1");
        using var http = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Http.ChatCompletions) { Content = new StringContent(SlowStream, System.Text.Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        string body = await response.Content.ReadAsStringAsync();
        var blocks = body[..^2].Split("\n\n");
        // The first word comes after 0.7 s; pings go every 0.1 s, so the stream opens with them and has them between words.
        Assert.Equal(": keep-alive", blocks[0]);
        Assert.True(blocks.Count(b => b == ": keep-alive") >= 3, body);
        var chunks = Sse.Chunks(string.Concat(blocks.Where(b => !b.StartsWith(':')).Select(b => b + "\n\n")));
        Assert.Equal("Slow but sure", Sse.Content(chunks));
    }

    [Fact]
    public async Task The_OpenAI_client_reads_through_the_comments()
    {
        using var server = ScriptedServer.OnLoopback("Server:KeepAliveSeconds=0.1");
        var client = OpenAIClients.Create(server.CreateClient(), ScriptedChatClient.ModelId, "not-checked");
        var text = new System.Text.StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(ScriptedChatClient.Slow))
            text.Append(update.Text);
        Assert.Equal("Slow but sure", text.ToString());
    }

    [Fact]
    public async Task A_refusal_still_gets_its_status_and_a_JSON_body()
    {
        using var server = ScriptedServer.OnLoopback("Server:KeepAliveSeconds=0.1");
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.Busy}}"}],"stream":true}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
        await (await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.OutOfRange}}"}],"stream":true}"""))
            .ErrorAsync(HttpStatusCode.BadRequest, "top_p");
    }
}
