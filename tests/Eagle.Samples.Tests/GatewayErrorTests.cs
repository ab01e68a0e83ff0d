using System.Net;
using System.Text.Json;
using Eagle.AI;
using Eagle.AI.Testing;
using Eagle.Samples.WebApi.Contracts;
using Eagle.Samples.WebApi.Mapping;

namespace Eagle.Samples.Tests;

/// <summary>
/// The WebApi sample in remote mode is a gateway in front of another OpenAI-compatible server (here the tiny chat
/// WebApi, which wants a key): the model server's refusals come back as a gateway relays them — its 4xx for the
/// request as a 400, a failure as a 502 — never as a 500, and without the model server's address.
/// </summary>
[Collection(RemoteTinyChatCollection.Name)]
public sealed class GatewayErrorTests(RemoteTinyChat upstream)
{
    private TinyChatServer Gateway(string apiKey) => TinyChatServer.OnLoopback(
        $"Eagle:Endpoint={upstream.Endpoint}", "Eagle:ModelPath=", "Eagle:DraftModelPath=", $"Eagle:ApiKey={apiKey}",
        // the gateway's own cap is above the model server's, so the model server is the one to refuse
        "Server:MaxTokens=100000");

    [Fact]
    public async Task A_request_the_model_server_refuses_is_a_400_that_does_not_name_the_server()
    {
        using var gateway = Gateway(RemoteTinyChat.ApiKey);
        using var http = gateway.CreateClient();
        using var response = await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{TinyChatScript.GreetingQuestion}}"}],"max_tokens":50000}""");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain(upstream.BaseAddress.Authority, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_server_that_refuses_the_gateway_is_a_502()
    {
        using var gateway = Gateway("not-the-key");                      // the model server answers 401 to the gateway
        using var http = gateway.CreateClient();
        using var response = await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{TinyChatScript.GreetingQuestion}}"}]}""");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_error", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain(upstream.BaseAddress.Authority, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_streamed_request_the_model_server_refuses_is_a_400_too()
    {
        using var gateway = Gateway(RemoteTinyChat.ApiKey);
        using var http = gateway.CreateClient();
        using var response = await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{TinyChatScript.GreetingQuestion}}"}],"max_tokens":50000,"stream":true}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    // What the client library reports after its retries: busy → 429 (with Retry-After), silent → 504, unreachable → 502;
    // over HTTP these take the resilience handler's back-off, so the mapping is checked on the exceptions themselves.
    [Theory]
    [InlineData(429, false, 429, "rate_limit_exceeded")]
    [InlineData(503, false, 502, "upstream_error")]
    [InlineData(null, true, 504, "upstream_timeout")]
    [InlineData(null, false, 502, "upstream_error")]
    public void The_model_servers_failures_map_as_a_gateway_maps_them(int? upstream, bool timedOut, int status, string code)
    {
        var endpoint = new Uri("http://10.1.2.3:8000/v1");
        Exception? cause = timedOut ? new TimeoutException() : null;
        var e = new ChatServerException($"The chat server at {endpoint} failed.", endpoint, (HttpStatusCode?)upstream, HttpRequestError.Unknown, cause);

        var error = ClientErrorMapper.ToRequestError(e, new ChatCompletionRequest());

        Assert.NotNull(error);
        Assert.Equal((status, code), (error.StatusCode, error.Code));
        Assert.Equal(status == 429, error.RetryAfter is not null);
        Assert.DoesNotContain("10.1.2.3", error.Message, StringComparison.Ordinal);
        Assert.Same(e, error.InnerException);                                   // the log line names the server
    }
}
