using System.Net;

namespace Eagle.Samples.Tests;

/// <summary>Refused requests get OpenAI's error body naming the field at fault, and the server keeps serving.</summary>
public sealed class BadRequestTests(ScriptedServer server) : IClassFixture<ScriptedServer>
{
    private const string User = """{"role":"user","content":"hi"}""";

    public static TheoryData<string, string?> BadBodies => new()
    {
        { "{\"messages\": [", null },
        { "", null },
        { "null", null },
        { "[]", null },
        { "{\"model\":\"" + ScriptedChatClient.ModelId + "\"}", "messages" },
        { "{\"messages\":[]}", "messages" },
        { "{\"messages\":[null]}", "messages[0]" },
        { "{\"messages\":[{\"content\":\"hi\"}]}", "messages[0].role" },
        { "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", "messages[0].role" },
        { "{\"messages\":[{\"role\":\"function\",\"content\":\"hi\"}]}", "messages[0].role" },
        { "{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":42}]}", "messages[0].content" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}", "messages[0].content[0].type" },
        { "{\"messages\":[{\"role\":\"assistant\"}]}", "messages[0].content" },
        { "{\"messages\":[" + User + ",{\"role\":\"tool\",\"content\":\"x\"}]}", "messages[1].tool_call_id" },
        { "{\"messages\":[" + User + ",{\"role\":\"tool\",\"tool_call_id\":\"call_x\",\"content\":\"x\"}]}", "messages[1].tool_call_id" },
        { "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{oops\"}}]}]}", "messages[0].tool_calls[0].function.arguments" },
        { "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}", "messages[0].tool_calls[0].id" },
        { "{\"messages\":[" + User + "],\"temperature\":2.5}", "temperature" },
        { "{\"messages\":[" + User + "],\"temperature\":-0.1}", "temperature" },
        { "{\"messages\":[" + User + "],\"temperature\":\"hot\"}", "temperature" },
        { "{\"messages\":[" + User + "],\"top_p\":1.5}", "top_p" },
        { "{\"messages\":[" + User + "],\"max_tokens\":0}", "max_tokens" },
        { "{\"messages\":[" + User + "],\"max_completion_tokens\":-3}", "max_completion_tokens" },
        { "{\"messages\":[" + User + "],\"n\":2}", "n" },
        { "{\"messages\":[" + User + "],\"presence_penalty\":3}", "presence_penalty" },
        { "{\"messages\":[" + User + "],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop" },
        { "{\"messages\":[" + User + "],\"stop\":[\"a\",7]}", "stop[1]" },
        { "{\"messages\":[" + User + "],\"stop\":\"\"}", "stop" },
        { "{\"messages\":[" + User + "],\"stream_options\":{\"include_usage\":true}}", "stream_options" },
        { "{\"messages\":[" + User + "],\"tool_choice\":\"auto\"}", "tool_choice" },
        { "{\"messages\":[" + User + "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"sometimes\"}", "tool_choice" },
        { "{\"messages\":[" + User + "],\"tools\":[{\"type\":\"retrieval\"}]}", "tools[0].type" },
        { "{\"messages\":[" + User + "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"no spaces\"}}]}", "tools[0].function.name" },
        { "{\"messages\":[" + User + "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]}", "tools[0].function.parameters" },
        { "{\"messages\":[" + User + "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", "tools[1].function.name" },
        { "{\"messages\":[" + User + "],\"stream\":\"yes\"}", "stream" },
        { "{\"messages\":[" + User + "],\"response_format\":{\"type\":\"xml\"}}", "response_format.type" },
        { "{\"messages\":[" + User + "],\"response_format\":\"json\"}", "response_format" },
        { "{\"messages\":[" + User + "],\"response_format\":{\"type\":\"json_schema\"}}", "response_format.json_schema" },
        { "{\"messages\":[" + User + "],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}", "response_format.json_schema.schema" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadRequest_Is400NamingTheParameter(string body, string? param)
    {
        using var http = server.CreateClient();
        var error = await (await http.PostJsonAsync(body)).ErrorAsync(HttpStatusCode.BadRequest, param);
        // The client's words, not .NET's: no type names, no "(Parameter 'x')".
        string message = error.GetProperty("message").GetString()!;
        Assert.DoesNotContain("System.", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Eagle.", message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UnknownModel_Is404ModelNotFound(bool stream)
    {
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync($$"""{"model":"gpt-4o","messages":[{{User}}],"stream":{{(stream ? "true" : "false")}}}""");
        var error = await response.ErrorAsync(HttpStatusCode.NotFound, "model");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains("gpt-4o", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerStaysUsable_AfterErrors()
    {
        using var http = server.CreateClient();
        await (await http.PostJsonAsync("{oops")).ErrorAsync(HttpStatusCode.BadRequest, null);
        await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":9}"""))
            .ErrorAsync(HttpStatusCode.BadRequest, "temperature");
        var body = await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"still there?"}]}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(ScriptedChatClient.EchoPrefix + "still there?", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task ClientFailure_Is500WithAServerErrorBody_AndTheServerGoesOn()
    {
        using var http = server.CreateClient();
        string Request(string text, bool stream) =>
            $$"""{"messages":[{"role":"user","content":"{{text}}"}],"stream":{{(stream ? "true" : "false")}}}""";
        foreach (bool stream in new[] { false, true })
        {
            var error = await (await http.PostJsonAsync(Request(ScriptedChatClient.FailAtOnce, stream))).ErrorAsync(HttpStatusCode.InternalServerError, null);
            // What failed inside stays in the server's log.
            Assert.DoesNotContain("scripted", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        var body = await (await http.PostJsonAsync(Request("after a failure", stream: false))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(ScriptedChatClient.EchoPrefix + "after a failure", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_full_engine_is_429_with_Retry_After_for_streams_and_plain_requests()
    {
        using var http = server.CreateClient();
        foreach (bool stream in new[] { false, true })
        {
            var response = await http.PostJsonAsync(
                $$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.Busy}}"}],"stream":{{(stream ? "true" : "false")}}}""");
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
            var error = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Contains("MaxQueuedRequests", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task FailureWhileStreaming_EndsTheStreamWithAnErrorEvent()
    {
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.FailMidway}}"}],"stream":true}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = Sse.Events(await response.Content.ReadAsStringAsync());
        Assert.DoesNotContain(Sse.Done, events);
        Assert.Contains("Half an answer", events[^2], StringComparison.Ordinal);
        var error = System.Text.Json.JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task UnknownUrl_Is404WithAnErrorBody()
    {
        using var http = server.CreateClient();
        await (await http.GetAsync("/v1/embeddings")).ErrorAsync(HttpStatusCode.NotFound, null);
    }
}
