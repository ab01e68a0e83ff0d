using Eagle.AI;
using Eagle.AI.Testing;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

/// <summary>The official OpenAI client (through <c>Microsoft.Extensions.AI.OpenAI</c>) against the server on the real engine.</summary>
[Collection(TinyChatCollection.Name)]
public sealed class EndToEndOpenAIClientTests(TinyChatServer server)
{
    [Fact]
    public async Task GetResponse_AnswersAsTrained()
    {
        using var client = OpenAIClients.Create(server, TinyChatServer.ModelId);
        var response = await client.GetResponseAsync(TinyChatScript.GreetingQuestion);
        Assert.Equal(TinyChatScript.GreetingAnswer, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(TinyChatServer.ModelId, response.ModelId);
        Assert.True(response.Usage is { InputTokenCount: > 5, OutputTokenCount: > 3 });
    }

    [Fact]
    public async Task GetStreamingResponse_AnswersAsTrained()
    {
        using var client = OpenAIClients.Create(server, TinyChatServer.ModelId);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(TinyChatScript.CapitalQuestion)) updates.Add(update);
        Assert.Equal(TinyChatScript.CapitalAnswer, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, updates.Select(u => u.FinishReason).Last(r => r is not null));
        Assert.True(Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details.OutputTokenCount > 3);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FunctionInvocation_RoundTrip_GivesTheWeatherAnswer(bool streaming)
    {
        var cities = new List<string>();
        var getWeather = AIFunctionFactory.Create((string city) =>
        {
            cities.Add(city);
            return TinyChatScript.WeatherResult;
        }, TinyChatScript.WeatherFunctionName, TinyChatScript.WeatherFunctionDescription);
        using var client = OpenAIClients.Create(server, TinyChatServer.ModelId).AsBuilder().UseFunctionInvocation().Build();
        var options = new ChatOptions { Tools = [getWeather] };

        string answer;
        if (streaming)
        {
            var updates = new List<ChatResponseUpdate>();
            await foreach (var update in client.GetStreamingResponseAsync(TinyChatScript.WeatherQuestion, options)) updates.Add(update);
            answer = updates.ToChatResponse().Messages[^1].Text;
        }
        else
        {
            answer = (await client.GetResponseAsync(TinyChatScript.WeatherQuestion, options)).Messages[^1].Text;
        }

        Assert.Equal([TinyChatScript.WeatherCity], cities);
        Assert.Equal(TinyChatScript.WeatherAnswer, answer);
    }
}
