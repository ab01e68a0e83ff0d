using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Eagle.Samples.Tests;

/// <summary>
/// What a server on a network refuses before it generates, over real HTTP: bodies that are not JSON (415), too large
/// (413) or not Unicode (400), answer budgets over the cap; and what it bounds: the default budget, the request time.
/// </summary>
public sealed class RequestLimitsTests
{
    private const string Hi = """{"messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task A_body_that_is_not_declared_JSON_is_415_and_generates_nothing()
    {
        using var server = ScriptedServer.OnLoopback();
        using var http = server.CreateClient();
        // text/plain is what any web page may POST cross-origin without asking.
        var plain = await http.PostAsync(Http.ChatCompletions, new StringContent(Hi, Encoding.UTF8, "text/plain"));
        var error = await plain.ErrorAsync(HttpStatusCode.UnsupportedMediaType, null);
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        var none = await http.PostAsync(Http.ChatCompletions, new ByteArrayContent(Encoding.UTF8.GetBytes(Hi)));
        await none.ErrorAsync(HttpStatusCode.UnsupportedMediaType, null);
        Assert.Null(server.Client.LastMessages);

        var charset = new StringContent(Hi, Encoding.UTF8);
        charset.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-8");
        await (await http.PostAsync(Http.ChatCompletions, charset)).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_body_over_the_configured_limit_is_413()
    {
        using var server = ScriptedServer.OnLoopback("Server:MaxRequestBodyBytes=1000");
        using var http = server.CreateClient();
        string big = $$"""{"messages":[{"role":"user","content":"{{new string('x', 1500)}}"}]}""";
        var error = await (await http.PostJsonAsync(big)).ErrorAsync(HttpStatusCode.RequestEntityTooLarge, null);
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());
        Assert.Contains("Server:MaxRequestBodyBytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        await (await http.PostJsonAsync(Hi)).JsonAsync(HttpStatusCode.OK);
    }

    public static TheoryData<byte[]> NotUnicode => new()
    {
        Concat("""{"messages":[{"role":"user","content":"bad """, [0xFF, 0xFE], """ bytes"}]}"""),
        Concat("""{"messages":[{"role":"user","content":"half """, [0xE2, 0x82], "\"}]}"),
        Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"lone \ud800 surrogate"}]}"""),
        Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"hi"}],"stop":"\udfff"}"""),
        Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","description":"\ud83d"}}}]}"""),
    };

    [Theory]
    [MemberData(nameof(NotUnicode))]
    public async Task Text_that_is_not_Unicode_is_400_logged_at_Information_without_a_stack_trace(byte[] body)
    {
        using var server = ScriptedServer.OnLoopback();
        using var http = server.CreateClient();
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var error = await (await http.PostAsync(Http.ChatCompletions, content)).ErrorAsync(HttpStatusCode.BadRequest, null);
        Assert.Equal("invalid_json", error.GetProperty("code").GetString());
        Assert.DoesNotContain(server.Logs.Lines, l => l.Level >= LogLevel.Warning || l.Exception is not null);
        Assert.Contains(server.Logs.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("400 invalid_json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_request_without_a_budget_gets_the_default_and_one_over_the_cap_is_400()
    {
        using var server = ScriptedServer.OnLoopback("Server:DefaultMaxTokens=3", "Server:MaxTokens=50");
        using var http = server.CreateClient();
        var body = await (await http.PostJsonAsync(Hi)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(3, server.Client.LastOptions?.MaxOutputTokens);
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"hi"}],"max_tokens":50}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(50, server.Client.LastOptions?.MaxOutputTokens);
        var error = await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"hi"}],"max_tokens":51}"""))
            .ErrorAsync(HttpStatusCode.BadRequest, "max_tokens");
        Assert.Contains("Server:MaxTokens", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":8000}"""))
            .ErrorAsync(HttpStatusCode.BadRequest, "max_completion_tokens");
    }

    [Fact]
    public async Task An_option_the_engine_refuses_reads_as_the_clients_words_not_dotnets()
    {
        using var server = ScriptedServer.OnLoopback();
        using var http = server.CreateClient();
        var error = await (await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.OutOfRange}}"}]}"""))
            .ErrorAsync(HttpStatusCode.BadRequest, "top_p");
        Assert.Equal("top_p must be above 0 for this model", error.GetProperty("message").GetString());
        Assert.Equal("invalid_value", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_request_past_the_timeout_is_cancelled_504_or_an_error_event_and_logged()
    {
        using var server = ScriptedServer.OnLoopback("Server:RequestTimeoutSeconds=0.5");
        using var http = server.CreateClient();
        string endless = $$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.Endless}}"}]""";
        var error = await (await http.PostJsonAsync(endless + "}")).ErrorAsync(HttpStatusCode.GatewayTimeout, null);
        Assert.Equal("timeout", error.GetProperty("code").GetString());

        var stream = await http.PostJsonAsync(endless + ""","stream":true}""");
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        var events = Sse.Events(await stream.Content.ReadAsStringAsync());
        Assert.DoesNotContain(Sse.Done, events);
        Assert.Equal("timeout", JsonDocument.Parse(events[^1]).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(2, server.Logs.Lines.Count(l => l.Level == LogLevel.Information && l.Message.Contains("cancelled", StringComparison.Ordinal)
            && l.Message.Contains("Server:RequestTimeoutSeconds", StringComparison.Ordinal)));
    }

    private static byte[] Concat(string before, byte[] bad, string after) =>
        [.. Encoding.UTF8.GetBytes(before), .. bad, .. Encoding.UTF8.GetBytes(after)];
}
