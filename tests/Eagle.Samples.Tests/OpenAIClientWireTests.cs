using System.ComponentModel;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

/// <summary>
/// The official OpenAI client reads what the server writes: the JSON answer, the event stream and tool calls, against
/// <see cref="ScriptedChatClient"/> (the end-to-end tests do the same on the real engine).
/// </summary>
public sealed class OpenAIClientWireTests(ScriptedServer server) : IClassFixture<ScriptedServer>
{
    [Fact]
    public async Task GetResponse_ReadsTextFinishReasonAndUsage()
    {
        using var client = OpenAIClients.Create(server, ScriptedChatClient.ModelId);
        var response = await client.GetResponseAsync("over the wire", new ChatOptions { Temperature = 0.25f, MaxOutputTokens = 200 });
        Assert.Equal("word ", response.Text[..5]);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(ScriptedChatClient.ModelId, response.ModelId);
        Assert.Equal(ScriptedChatClient.PromptTokens, response.Usage?.InputTokenCount);
        Assert.Equal(200, response.Usage?.OutputTokenCount);
        Assert.Equal(0.25f, server.Client.LastOptions!.Temperature);
    }

    [Fact]
    public async Task GetStreamingResponse_ReadsDeltasAndOneUsage()
    {
        using var client = OpenAIClients.Create(server, ScriptedChatClient.ModelId);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("one two three")) updates.Add(update);
        Assert.Equal(ScriptedChatClient.EchoPrefix + "one two three", string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 5, "The text should arrive in pieces.");
        Assert.Equal(ChatFinishReason.Stop, updates.Select(u => u.FinishReason).Last(r => r is not null));
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Equal(5, usage.Details.OutputTokenCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FunctionInvocation_RoundTripsThroughTheClient(bool streaming)
    {
        string? asked = null;
        var getWeather = AIFunctionFactory.Create(([Description("The city.")] string city) =>
        {
            asked = city;
            return "rainy";
        }, "get_weather", "Gets the weather.");
        using var client = OpenAIClients.Create(server, ScriptedChatClient.ModelId).AsBuilder().UseFunctionInvocation().Build();
        var options = new ChatOptions { Tools = [getWeather] };

        // The scripted model calls get_weather(city: "Paris"), then reports the result the client sent back.
        string text = streaming
            ? string.Concat(await Collect(client.GetStreamingResponseAsync("Weather?", options)))
            : (await client.GetResponseAsync("Weather?", options)).Text;

        Assert.Equal("Paris", asked);
        // Function invocation hands the result on as JSON, so the OpenAI client sends the tool content "\"rainy\"";
        // the server passes tool content to the model unchanged.
        Assert.Equal(ScriptedChatClient.ToolResultPrefix + "\"rainy\"", text);
        var messages = server.Client.LastMessages!;
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(messages[^2].Contents));
        var result = Assert.IsType<FunctionResultContent>(Assert.Single(messages[^1].Contents));
        Assert.Equal(("get_weather", call.CallId), (call.Name, result.CallId));
    }

    private static async Task<List<string>> Collect(IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        var texts = new List<string>();
        await foreach (var update in updates) texts.Add(update.Text);
        return texts;
    }
}
