using System.Net;
using System.Text.Json;
using Eagle.AI;
using Eagle.AI.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.Tests;

/// <summary>Raw HTTP against the server on the real engine (tiny chat model, speculative decoding).</summary>
[Collection(TinyChatCollection.Name)]
public sealed class EndToEndHttpTests(TinyChatServer server)
{
    private const string WeatherTool =
        "{\"type\":\"function\",\"function\":{\"name\":\"" + TinyChatScript.WeatherFunctionName
        + "\",\"description\":\"" + TinyChatScript.WeatherFunctionDescription
        + "\",\"parameters\":{\"type\":\"object\",\"properties\":{\"" + TinyChatScript.WeatherParameterName + "\":{\"type\":\"string\"}},"
        + "\"required\":[\"" + TinyChatScript.WeatherParameterName + "\"]}}}";

    [Fact]
    public void Server_RunsTheEngineSpeculatively()
    {
        var engine = server.Services.GetRequiredService<EagleEngine>();
        Assert.True(engine.HasDraftModel);
        Assert.True(server.Services.GetRequiredService<IOptions<EagleOptions>>().Value.Speculative);
    }

    [Fact]
    public async Task Completion_AnswersAsTrained()
    {
        using var http = server.CreateClient();
        var body = await (await http.PostJsonAsync(Request(TinyChatScript.CapitalQuestion))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatServer.ModelId, body.GetProperty("model").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(TinyChatScript.CapitalAnswer, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        int prompt = usage.GetProperty("prompt_tokens").GetInt32(), completion = usage.GetProperty("completion_tokens").GetInt32();
        Assert.True(prompt > 5 && completion > 3, $"usage {prompt} + {completion}");
        Assert.Equal(prompt + completion, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Stream_AnswersAsTrained()
    {
        using var http = server.CreateClient();
        string request = Request(TinyChatScript.GreetingQuestion, """ "stream":true,"stream_options":{"include_usage":true} """);
        var response = await http.PostJsonAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var chunks = Sse.Chunks(await response.Content.ReadAsStringAsync());
        Assert.Equal(TinyChatScript.GreetingAnswer, Sse.Content(chunks));
        Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.True(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 3);
    }

    [Fact]
    public async Task Concurrent_requests_are_answered_together_each_as_alone()
    {
        using var http = server.CreateClient();
        string[] questions = [TinyChatScript.CapitalQuestion, TinyChatScript.GreetingQuestion, TinyChatScript.CapitalQuestion, TinyChatScript.GreetingQuestion];
        var responses = await Task.WhenAll(questions.Select((q, i) => Task.Run(async () =>
        {
            var response = await http.PostJsonAsync(Request(q, i % 2 == 0 ? null : """ "stream":true """));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            string text = await response.Content.ReadAsStringAsync();
            return i % 2 == 0
                ? JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString() ?? ""
                : Sse.Content(Sse.Chunks(text));
        })));
        Assert.Equal([TinyChatScript.CapitalAnswer, TinyChatScript.GreetingAnswer, TinyChatScript.CapitalAnswer, TinyChatScript.GreetingAnswer], responses);
    }

    [Fact]
    public async Task A_follow_up_turn_reports_its_cached_prompt_tokens()
    {
        using var http = server.CreateClient();
        string turn1 = $$"""{"role":"user","content":{{JsonSerializer.Serialize(TinyChatScript.GreetingQuestion)}}}""";
        var first = await (await http.PostJsonAsync($$"""{"messages":[{{turn1}}]}""")).JsonAsync(HttpStatusCode.OK);
        string answer = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        string turn2 = $$"""{"messages":[{{turn1}},{"role":"assistant","content":{{JsonSerializer.Serialize(answer)}}},{"role":"user","content":{{JsonSerializer.Serialize(TinyChatScript.CapitalQuestion)}}}]}""";
        var second = await (await http.PostJsonAsync(turn2)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatScript.CapitalAnswer, second.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        long cached = second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt64();
        long firstTokens = first.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        Assert.True(cached >= firstTokens - 2, $"{cached} cached of the {firstTokens} tokens of the first turn");
    }

    [Fact]
    public async Task ToolCall_ThenResult_GivesTheAnswer()
    {
        using var http = server.CreateClient();
        var first = await (await http.PostJsonAsync(Request(TinyChatScript.WeatherQuestion, $"\"tools\":[{WeatherTool}]")))
            .JsonAsync(HttpStatusCode.OK);
        var choice = first.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var call = Assert.Single(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray());
        Assert.Equal(TinyChatScript.WeatherFunctionName, call.GetProperty("function").GetProperty("name").GetString());
        string arguments = call.GetProperty("function").GetProperty("arguments").GetString()!;
        Assert.Equal(TinyChatScript.WeatherCity, JsonDocument.Parse(arguments).RootElement.GetProperty(TinyChatScript.WeatherParameterName).GetString());

        // The client runs the tool and sends the call and its result back, as OpenAI clients do.
        string history = $$"""
            {"role":"user","content":{{JsonSerializer.Serialize(TinyChatScript.WeatherQuestion)}}},
            {"role":"assistant","content":null,"tool_calls":[{{call.GetRawText()}}]},
            {"role":"tool","tool_call_id":{{JsonSerializer.Serialize(call.GetProperty("id").GetString())}},"content":{{JsonSerializer.Serialize(TinyChatScript.WeatherResult)}}}
            """;
        var second = await (await http.PostJsonAsync($$"""{"model":"{{TinyChatServer.ModelId}}","messages":[{{history}}],"tools":[{{WeatherTool}}]}"""))
            .JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatScript.WeatherAnswer, second.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", second.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task JsonSchema_response_format_and_a_required_tool_are_enforced()
    {
        using var http = server.CreateClient();
        const string format = """
            "response_format":{"type":"json_schema","json_schema":{"name":"place","strict":true,"schema":
              {"type":"object","properties":{"city":{"type":"string","maxLength":10},"n":{"type":"integer"}},"required":["city","n"],"additionalProperties":false}}},
            "temperature":0,"max_tokens":200
            """;
        var body = await (await http.PostJsonAsync(Request(TinyChatScript.CapitalQuestion, format))).JsonAsync(HttpStatusCode.OK);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var answer = JsonDocument.Parse(choice.GetProperty("message").GetProperty("content").GetString()!).RootElement;
        Assert.True(answer.GetProperty("n").TryGetInt64(out _));
        Assert.True(answer.GetProperty("city").GetString()!.Length <= 10);

        // Asked something else, the model still has to call the tool.
        var called = await (await http.PostJsonAsync(Request(TinyChatScript.CapitalQuestion, $"\"tools\":[{WeatherTool}],\"tool_choice\":\"required\",\"temperature\":0,\"max_tokens\":200")))
            .JsonAsync(HttpStatusCode.OK);
        Assert.Equal("tool_calls", called.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData("\"top_p\":0", "top_p", nameof(ChatOptions.TopP))]
    [InlineData("\"tools\":[" + WeatherTool + "],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}", "tool_choice", "get_time")]
    [InlineData("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"strict\":true,\"schema\":{\"type\":\"string\",\"pattern\":\"a\"}}}", "response_format", "'pattern'")]
    public async Task EngineRefusal_Is400NamingTheOption_AndTheServerGoesOn(string fields, string param, string mentioned)
    {
        using var http = server.CreateClient();
        foreach (bool stream in new[] { false, true })
        {
            var error = await (await http.PostJsonAsync(Request(TinyChatScript.CapitalQuestion, fields + $",\"stream\":{(stream ? "true" : "false")}")))
                .ErrorAsync(HttpStatusCode.BadRequest, param);
            Assert.Contains(mentioned, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        var body = await (await http.PostJsonAsync(Request(TinyChatScript.CapitalQuestion))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatScript.CapitalAnswer, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task PromptOverTheContext_Is400OnMessages_WithOpenAIsCode()
    {
        using var http = server.CreateClient();
        string tooLong = string.Concat(Enumerable.Repeat(" hello", 9000));   // > 8192 tokens, the default context limit
        var error = await (await http.PostJsonAsync(Request(tooLong))).ErrorAsync(HttpStatusCode.BadRequest, "messages");
        Assert.Contains("context limit", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task ModelsAndHealth_ReportTheLoadedModel()
    {
        using var http = server.CreateClient();
        var models = await (await http.GetAsync("/v1/models")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatServer.ModelId, Assert.Single(models.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());
    }

    private static string Request(string question, string? fields = null) =>
        $$"""{"model":"{{TinyChatServer.ModelId}}","messages":[{"role":"user","content":{{JsonSerializer.Serialize(question)}}}]{{(fields is null ? "" : "," + fields)}}}""";
}
