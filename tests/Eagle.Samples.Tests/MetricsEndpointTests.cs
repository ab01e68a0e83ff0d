using System.Net;
using System.Net.Http.Headers;
using Eagle.AI.Engine.Demo;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Eagle.Samples.Tests;

/// <summary><c>/metrics</c> on the real engine: the Prometheus text with the GenAI and engine names after a request.</summary>
[Collection(TinyChatCollection.Name)]
public sealed class MetricsEndpointTests(TinyChatServer server)
{
    [Fact]
    public async Task After_a_request_metrics_has_the_GenAI_and_engine_series_and_no_text()
    {
        using var http = server.CreateClient();
        string chat = $$"""{"model":"{{TinyChatServer.ModelId}}","messages":[{"role":"user","content":"{{TinyChatScript.CapitalQuestion}}"}]}""";
        await (await http.PostJsonAsync(chat)).JsonAsync(HttpStatusCode.OK);

        var response = await http.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        string text = await response.Content.ReadAsStringAsync();
        foreach (string name in new[]
        {
            "gen_ai_server_request_duration_seconds_bucket", "gen_ai_server_time_to_first_token_seconds_bucket",
            "gen_ai_server_time_per_output_token_seconds_bucket", "gen_ai_client_token_usage_bucket",
            "eagle_decode_acceptance_length_bucket", "eagle_decode_rounds_total", "eagle_decode_accepted_draft_tokens_total",
            "eagle_step_prefill_tokens_bucket", "eagle_step_verify_tokens_bucket", "eagle_requests_queued", "eagle_requests_active",
            "eagle_kv_cache_positions", "eagle_prefix_cache_positions", "http_server_request_duration_seconds_bucket",
        })
            Assert.Contains(name, text, StringComparison.Ordinal);
        Assert.Contains($"gen_ai_request_model=\"{TinyChatServer.ModelId}\"", text, StringComparison.Ordinal);
        Assert.Contains("gen_ai_token_type=\"input\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("France", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Paris", text, StringComparison.OrdinalIgnoreCase);
        // No OTLP endpoint configured: nothing listens to the spans.
        Assert.Null(server.Services.GetService<TracerProvider>());
    }
}

/// <summary>Who may read <c>/metrics</c> when <c>Server:ApiKeys</c> is set, and OTLP export switched on by configuration.</summary>
public sealed class MetricsAccessTests
{
    private static ScriptedServer WithKeys(params string[] more) =>
        ScriptedServer.OnLoopback(["Server:ApiKeys:0=key-alpha", .. more]);

    [Fact]
    public async Task Metrics_stay_open_by_default_when_the_API_needs_a_key()
    {
        using var server = WithKeys();
        using var http = server.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/models")).StatusCode);
        var metrics = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("# TYPE", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_need_the_key_when_configured_so()
    {
        using var server = WithKeys("Telemetry:MetricsRequireApiKey=true");
        using var http = server.CreateClient();

        var without = await http.GetAsync("/metrics");
        await without.ErrorAsync(HttpStatusCode.Unauthorized, null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "key-alpha");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task An_OTLP_endpoint_turns_tracing_on_and_the_server_still_answers()
    {
        // A port nothing listens on: export fails in the background, requests do not.
        using var server = ScriptedServer.OnLoopback("Telemetry:OtlpEndpoint=http://127.0.0.1:9");
        using var http = server.CreateClient();

        Assert.NotNull(server.Services.GetService<TracerProvider>());
        await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"hi"}]}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/metrics")).StatusCode);
    }
}

/// <summary>The conversation stays out of the server's log, also when a request is refused for a value it holds.</summary>
public sealed class LogPrivacyTests
{
    [Fact]
    public async Task Neither_a_conversation_nor_a_refused_requests_values_reach_the_log()
    {
        using var server = ScriptedServer.OnLoopback();
        using var http = server.CreateClient();

        await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"tell nobody: zebra"}]}""")).JsonAsync(HttpStatusCode.OK);
        var error = await (await http.PostJsonAsync("""{"messages":[{"role":"zebra-role","content":"zebra"}]}"""))
            .ErrorAsync(HttpStatusCode.BadRequest, "messages[0].role");

        Assert.Contains("zebra-role", error.GetProperty("message").GetString(), StringComparison.Ordinal);   // the client is told
        Assert.Contains(server.Logs.Lines, l => l.Message.Contains("400 invalid_value (parameter: messages[0].role)", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Logs.Lines, l => l.Message.Contains("zebra", StringComparison.OrdinalIgnoreCase));
    }
}
