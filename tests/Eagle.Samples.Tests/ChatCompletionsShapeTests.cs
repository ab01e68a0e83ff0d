using System.Net;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

/// <summary>The request and response shapes of <c>/v1/chat/completions</c>, against <see cref="ScriptedChatClient"/>.</summary>
public sealed class ChatCompletionsShapeTests(ScriptedServer server) : IClassFixture<ScriptedServer>
{
    private const string Model = ScriptedChatClient.ModelId;

    [Fact]
    public async Task Completion_HasOpenAIShape()
    {
        using var http = server.CreateClient();
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = await (await http.PostJsonAsync($$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hi there"}]}"""))
            .JsonAsync(HttpStatusCode.OK);

        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.InRange(body.GetProperty("created").GetInt64(), before, before + 60);
        Assert.Equal(Model, body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(ScriptedChatClient.EchoPrefix + "hi there", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out _));
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(ScriptedChatClient.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("completion_tokens").GetInt32());   // "You", " said:", " hi", " there"
        Assert.Equal(ScriptedChatClient.PromptTokens + 4, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Request_MapsEveryMessageKindAndOption()
    {
        using var http = server.CreateClient();
        string request = """
        {
          "model": "scripted-model",
          "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "text", "text": " In Paris."}], "name": "ana"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny."},
            {"role": "user", "content": "Thanks"}
          ],
          "temperature": 0.5, "top_p": 0.9, "max_completion_tokens": 3, "max_tokens": 99, "stop": ["\n\n", "END"], "seed": 42,
          "frequency_penalty": 0.25, "presence_penalty": -0.5, "parallel_tool_calls": false,
          "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
          "tool_choice": "none", "user": "ignored-field"
        }
        """;
        var body = await (await http.PostJsonAsync(request)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var messages = server.Client.LastMessages!;
        Assert.Equal([ChatRole.System, ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant, ChatRole.User],
            messages.Select(m => m.Role));
        Assert.Equal("Be brief.", messages[0].Text);
        Assert.Equal("Answer in English.", messages[1].Text);
        Assert.Equal(["Weather?", " In Paris."], messages[2].Contents.OfType<TextContent>().Select(t => t.Text));
        Assert.Equal("ana", messages[2].AuthorName);
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(messages[3].Contents));
        Assert.Equal(("call_9", "get_weather"), (call.CallId, call.Name));
        Assert.Equal("Paris", Assert.IsType<JsonElement>(call.Arguments!["city"]).GetString());
        var result = Assert.IsType<FunctionResultContent>(Assert.Single(messages[4].Contents));
        Assert.Equal(("call_9", "sunny"), (result.CallId, result.Result as string));
        Assert.Equal("It is sunny.", messages[5].Text);

        var options = server.Client.LastOptions!;
        Assert.Equal(Model, options.ModelId);
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(0.9f, options.TopP);
        Assert.Equal(3, options.MaxOutputTokens);   // max_completion_tokens wins over the deprecated max_tokens
        Assert.Equal(["\n\n", "END"], options.StopSequences!);
        Assert.Equal(42L, options.Seed);
        Assert.Equal(0.25f, options.FrequencyPenalty);
        Assert.Equal(-0.5f, options.PresencePenalty);
        Assert.False(options.AllowMultipleToolCalls);
        Assert.Same(ChatToolMode.None, options.ToolMode);
        var function = Assert.IsAssignableFrom<AIFunctionDeclaration>(Assert.Single(options.Tools!));
        Assert.Equal(("get_weather", "Weather for a city."), (function.Name, function.Description));
        Assert.Equal("string", function.JsonSchema.GetProperty("properties").GetProperty("city").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("\"auto\"", null)]
    [InlineData("\"required\"", "")]
    [InlineData("{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}", "get_weather")]
    public async Task ToolChoice_MapsToToolMode(string choice, string? required)
    {
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync("""
            {"messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}],"tool_choice":
            """ + choice + "}");
        await response.JsonAsync(HttpStatusCode.OK);
        var mode = server.Client.LastOptions!.ToolMode;
        if (required is null) Assert.Same(ChatToolMode.Auto, mode);
        else Assert.Equal(required.Length == 0 ? null : required, Assert.IsType<RequiredChatToolMode>(mode).RequiredFunctionName);
        // A function declared without parameters gets an empty object schema, which every client can render.
        var function = Assert.IsAssignableFrom<AIFunctionDeclaration>(Assert.Single(server.Client.LastOptions!.Tools!));
        Assert.Equal("object", function.JsonSchema.GetProperty("type").GetString());
    }

    [Fact]
    public async Task MaxTokensAndStopString_Map()
    {
        using var http = server.CreateClient();
        var body = await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"x"}],"max_tokens":2,"stop":"END"}"""))
            .JsonAsync(HttpStatusCode.OK);
        Assert.Equal(2, server.Client.LastOptions!.MaxOutputTokens);
        Assert.Equal(["END"], server.Client.LastOptions.StopSequences!);
        Assert.Equal("word word ", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task ToolCall_IsReturnedToTheClient()
    {
        using var http = server.CreateClient();
        var body = await (await http.PostJsonAsync("""
            {"messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}
            """)).JsonAsync(HttpStatusCode.OK);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray());
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        // Arguments travel as a JSON object encoded in a string.
        string arguments = call.GetProperty("function").GetProperty("arguments").GetString()!;
        Assert.Equal("Paris", JsonDocument.Parse(arguments).RootElement.GetProperty("city").GetString());
    }

    [Fact]
    public async Task Stream_IsServerSentChunksEndingWithDone()
    {
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync("""
            {"model":"scripted-model","messages":[{"role":"user","content":"stream me"}],"stream":true,"stream_options":{"include_usage":true}}
            """);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var chunks = Sse.Chunks(await response.Content.ReadAsStringAsync());

        Assert.All(chunks, c =>
        {
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal(chunks[0].GetProperty("id").GetString(), c.GetProperty("id").GetString());
            Assert.Equal(chunks[0].GetProperty("created").GetInt64(), c.GetProperty("created").GetInt64());
            Assert.Equal(Model, c.GetProperty("model").GetString());
        });
        Assert.StartsWith("chatcmpl-", chunks[0].GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.All(chunks.Skip(1), c => Assert.All(c.GetProperty("choices").EnumerateArray(), ch => Assert.False(ch.GetProperty("delta").TryGetProperty("role", out _))));
        Assert.Equal(ScriptedChatClient.EchoPrefix + "stream me", Sse.Content(chunks));
        Assert.True(chunks.Count >= 1 + 4 + 2, "Each streamed piece should be its own chunk.");

        // Then one chunk that only finishes, then the usage chunk with no choices.
        var finish = chunks[^2].GetProperty("choices")[0];
        Assert.Equal("stop", finish.GetProperty("finish_reason").GetString());
        Assert.Empty(finish.GetProperty("delta").EnumerateObject());
        Assert.All(chunks.Take(chunks.Count - 2), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.Empty(chunks[^1].GetProperty("choices").EnumerateArray());
        var usage = chunks[^1].GetProperty("usage");
        Assert.Equal(ScriptedChatClient.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(ScriptedChatClient.PromptTokens + 4, usage.GetProperty("total_tokens").GetInt32());
        Assert.All(chunks.Take(chunks.Count - 1), c => Assert.False(c.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task Stream_WithoutIncludeUsage_EndsWithTheFinishChunk()
    {
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync("""{"messages":[{"role":"user","content":"a b"}],"stream":true,"max_tokens":1}""");
        var chunks = Sse.Chunks(await response.Content.ReadAsStringAsync());
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
        Assert.Equal("word ", Sse.Content(chunks));
    }

    [Fact]
    public async Task Stream_ToolCall_IsOneDeltaWithIndexIdAndArguments()
    {
        using var http = server.CreateClient();
        var response = await http.PostJsonAsync("""
            {"messages":[{"role":"user","content":"Weather?"}],"stream":true,"tools":[{"type":"function","function":{"name":"get_weather"}}]}
            """);
        var chunks = Sse.Chunks(await response.Content.ReadAsStringAsync());
        var calls = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _)).SelectMany(d => d.GetProperty("tool_calls").EnumerateArray()).ToList();
        var call = Assert.Single(calls);
        Assert.Equal(0, call.GetProperty("index").GetInt32());
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool_calls", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal("", Sse.Content(chunks));
    }
}
