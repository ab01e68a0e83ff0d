using Eagle.AI.Testing;
using Eagle.Samples.Agents;
using Microsoft.Extensions.AI;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>The Agent Framework sample's agent on the tiny chat model: it calls the kernel plugin and answers from the result.</summary>
[Collection(TinyKernelCollection.Name)]
public class WeatherAgentTests(TinyKernelFixture fixture)
{
    [Fact]
    public async Task The_agent_calls_the_plugin_and_answers()
    {
        var (kernel, weather) = fixture.WithWeatherPlugin();
        var agent = WeatherAgent.Create(kernel);

        var response = await agent.RunAsync(TinyChatScript.WeatherQuestion);

        Assert.Equal(WeatherAgent.Name, agent.Name);
        var invoker = kernel.GetRequiredService<IChatClient>().GetService<FunctionInvokingChatClient>();
        Assert.Same(invoker, agent.ChatClient.GetService<FunctionInvokingChatClient>());  // the agent added no second invoker

        Assert.Equal([TinyChatScript.WeatherCity], weather.Cities);
        Assert.Equal(TinyChatScript.WeatherAnswer, response.Text);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal($"{RecordingWeatherPlugin.PluginName}_{TinyChatScript.WeatherFunctionName}", call.Name);
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
        Assert.Equal(TinyChatScript.WeatherResult, result.Result?.ToString());
    }
}
