using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

/// <summary><c>Server:ApiKeys</c>, CORS and per-key rate limits, over real HTTP.</summary>
public sealed class ApiKeyTests
{
    private const string Hi = """{"messages":[{"role":"user","content":"hi"}]}""";

    private static ScriptedServer WithKeys(params string[] more) =>
        ScriptedServer.OnLoopback([ "Server:ApiKeys:0=key-alpha", "Server:ApiKeys:1=key-beta", .. more ]);

    [Fact]
    public async Task Without_a_right_key_it_is_401_in_OpenAIs_shape_with_any_key_it_answers()
    {
        using var server = WithKeys();
        using var http = server.CreateClient();
        foreach (string? key in new[] { null, "key-gamma", "key-alph", "key-alpha-and-more" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Http.ChatCompletions) { Content = new StringContent(Hi, System.Text.Encoding.UTF8, "application/json") };
            if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var response = await http.SendAsync(request);
            var error = await response.ErrorAsync(HttpStatusCode.Unauthorized, null);
            Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
            Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        }
        await (await http.GetAsync("/v1/models")).ErrorAsync(HttpStatusCode.Unauthorized, null);
        Assert.Null(server.Client.LastMessages);

        foreach (string key in new[] { "key-alpha", "key-beta" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Http.ChatCompletions) { Content = new StringContent(Hi, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            await (await http.SendAsync(request)).JsonAsync(HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task Health_stays_open()
    {
        using var server = WithKeys();
        using var http = server.CreateClient();
        var response = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task The_OpenAI_client_works_with_a_key_and_gets_401_with_a_wrong_one()
    {
        using var server = WithKeys();
        var client = OpenAIClients.Create(server.CreateClient(), ScriptedChatClient.ModelId, "key-beta");
        Assert.Equal(ScriptedChatClient.EchoPrefix + "hello", (await client.GetResponseAsync("hello")).Text);
        var wrong = OpenAIClients.Create(server.CreateClient(), ScriptedChatClient.ModelId, "sk-wrong");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => wrong.GetResponseAsync("hello"));
        Assert.Equal(401, e.Status);
    }

    [Fact]
    public async Task CORS_is_off_unless_origins_are_configured()
    {
        using (var server = ScriptedServer.OnLoopback())
        using (var http = server.CreateClient())
            Assert.False((await GetWithOrigin(http, "https://app.example")).Headers.Contains("Access-Control-Allow-Origin"));

        using (var server = ScriptedServer.OnLoopback("Server:CorsOrigins:0=https://app.example"))
        using (var http = server.CreateClient())
        {
            var allowed = await GetWithOrigin(http, "https://app.example");
            Assert.Equal("https://app.example", Assert.Single(allowed.Headers.GetValues("Access-Control-Allow-Origin")));
            Assert.False((await GetWithOrigin(http, "https://evil.example")).Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task Each_key_has_its_own_rate_limit_and_health_none()
    {
        using var server = WithKeys("Server:RequestsPerMinute=2");
        using var http = server.CreateClient();
        async Task<HttpResponseMessage> Post(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Http.ChatCompletions) { Content = new StringContent(Hi, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return await http.SendAsync(request);
        }
        await (await Post("key-alpha")).JsonAsync(HttpStatusCode.OK);
        await (await Post("key-alpha")).JsonAsync(HttpStatusCode.OK);
        var limited = await Post("key-alpha");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter?.Delta);
        var error = System.Text.Json.JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());

        await (await Post("key-beta")).JsonAsync(HttpStatusCode.OK);
        for (int i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
    }

    private static async Task<HttpResponseMessage> GetWithOrigin(HttpClient http, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("Origin", origin);
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }
}
