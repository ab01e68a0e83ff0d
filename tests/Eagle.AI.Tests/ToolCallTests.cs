using System.Collections.Concurrent;
using System.Text.Json;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Eagle.AI.Tests;

/// <summary>The tool-call path, driven by scripted token ids (a random model never writes a call).</summary>
public class ToolCallTests
{
    private const string WeatherCall = """{"name": "get_weather", "parameters": {"city": "Paris"}}""";
    private static readonly ChatMessage[] Ask = [new(ChatRole.User, "What is the weather in Paris?")];
    private static readonly AIFunction Weather = AIFunctionFactory.Create((string city) => $"18C and sunny in {city}", "get_weather", "Current weather of a city.");

    private static ChatOptions WithTools(ChatToolMode? mode = null) => new() { Tools = [Weather], ToolMode = mode };

    private static async Task<List<ChatResponseUpdate>> Stream(int[] answer, ChatOptions? options, ILogger<EagleChatClient>? logger = null)
    {
        using var engine = Scripted.Engine(_ => answer);
        using var client = new EagleChatClient(engine, logger);
        return await ChatAssert.ReadAll(client.GetStreamingResponseAsync(Ask, options));
    }

    [Fact]
    public async Task A_JSON_call_becomes_one_FunctionCallContent_with_ToolCalls()
    {
        var updates = await Stream(Scripted.Answer(WeatherCall, Llama3SpecialTokens.EndOfMessage), WithTools());

        ChatAssert.StreamingContract(updates, Scripted.ModelId);
        Assert.Equal("", ChatAssert.Text(updates));   // buffered: no part of the call leaks as text
        var call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Same(updates[^1], updates.Single(u => u.Contents.Contains(call)));
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("call_", call.CallId, StringComparison.Ordinal);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
    }

    [Fact]
    public async Task Python_tag_calls_and_several_calls_each_get_their_own_id()
    {
        int[] answer = [Llama3SpecialTokens.PythonTag, .. Scripted.Answer(WeatherCall + "; " + """{"name": "get_weather", "parameters": {"city": "Rome"}}""", Llama3SpecialTokens.EndOfMessage)];
        var updates = await Stream(answer, WithTools());

        var calls = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
        Assert.Equal(["Paris", "Rome"], calls.Select(c => ((JsonElement)c.Arguments!["city"]!).GetString()));
        Assert.NotEqual(calls[0].CallId, calls[1].CallId);
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);

        var single = WithTools();
        single.AllowMultipleToolCalls = false;
        var first = (await Stream(answer, single)).SelectMany(u => u.Contents).OfType<FunctionCallContent>();
        Assert.Equal("Paris", ((JsonElement)Assert.Single(first).Arguments!["city"]!).GetString());
    }

    [Fact]
    public async Task An_answer_that_starts_like_a_call_but_does_not_parse_is_returned_as_text()
    {
        string broken = """{"name": "get_weather", "parameters": {"city": """;
        var logger = new ListLogger<EagleChatClient>();
        var updates = await Stream(Scripted.Answer(broken), WithTools(), logger);

        Assert.Equal(broken, ChatAssert.Text(updates));
        Assert.Empty(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Debug, entry.Level);
        Assert.Contains("not a well-formed one", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_tools_a_JSON_answer_is_plain_streamed_text()
    {
        var updates = await Stream(Scripted.Answer(WeatherCall), null);
        Assert.Equal(WeatherCall, ChatAssert.Text(updates));
        Assert.True(updates.Count(u => u.Text.Length > 0) > 1, "plain text streams round by round");
        Assert.Empty(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());

        var none = await Stream(Scripted.Answer(WeatherCall), WithTools(ChatToolMode.None));
        Assert.Empty(none.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
    }

    [Fact]
    public async Task With_tools_a_text_answer_still_streams_as_soon_as_it_is_clearly_text()
    {
        string text = "  It is sunny in Paris today, with a light breeze from the west.";
        var updates = await Stream(Scripted.Answer(text), WithTools());
        Assert.Equal(text, ChatAssert.Text(updates));
        Assert.True(updates.Count(u => u.Text.Length > 0) > 3, "text after the undecided start streams");
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
    }

    [Fact]
    public async Task A_required_call_answered_with_text_is_returned_as_text_and_logged()
    {
        var logger = new ListLogger<EagleChatClient>();
        var updates = await Stream(Scripted.Answer("I cannot call tools."), WithTools(ChatToolMode.RequireAny), logger);

        Assert.Equal("I cannot call tools.", ChatAssert.Text(updates));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("required a function call", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_full_UseFunctionInvocation_round_trip_calls_the_function_and_answers(bool streaming)
    {
        var prompts = new ConcurrentQueue<string>();
        var cities = new ConcurrentQueue<string>();
        var weather = AIFunctionFactory.Create((string city) =>
        {
            cities.Enqueue(city);
            return $"18C and sunny in {city}";
        }, "get_weather");
        using var engine = Scripted.Engine(request =>
        {
            string prompt = Scripted.Rendered(request);
            prompts.Enqueue(prompt);
            return prompt.Contains("<|start_header_id|>ipython", StringComparison.Ordinal)
                ? Scripted.Answer("It is 18C and sunny in Paris.")
                : Scripted.Answer(WeatherCall, Llama3SpecialTokens.EndOfMessage);
        });
        using var client = new EagleChatClient(engine).AsBuilder().UseFunctionInvocation().Build();
        var options = new ChatOptions { Tools = [weather] };

        var response = streaming
            ? await client.GetStreamingResponseAsync(Ask, options).ToChatResponseAsync()
            : await client.GetResponseAsync(Ask, options);

        Assert.Equal(["Paris"], cities);
        Assert.Equal("It is 18C and sunny in Paris.", response.Messages[^1].Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Contains(response.Messages, m => m.Contents.OfType<FunctionCallContent>().Any(c => c.Name == "get_weather"));
        Assert.Contains(response.Messages, m => m.Role == ChatRole.Tool && m.Contents.OfType<FunctionResultContent>().Any());
        Assert.Equal(2, prompts.Count);
        // The second prompt carries the call and its result in the LLaMA-3.1 format.
        Assert.EndsWith(
            "<|start_header_id|>assistant<|end_header_id|>\n\n" + WeatherCall + "<|eot_id|>"
            + "<|start_header_id|>ipython<|end_header_id|>\n\n\"18C and sunny in Paris\"<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            prompts.Last(), StringComparison.Ordinal);
        // Usage is summed over both requests by the middleware.
        Assert.True(response.Usage!.AdditionalCounts![EagleUsageKeys.TargetForwardPasses] >= 2);
    }
}
