using System.Text;
using Eagle.AI.Testing;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>Semantic Kernel on the tiny chat model with speculation on: prompts, streaming, and plugins called by <c>FunctionChoiceBehavior.Auto()</c>.</summary>
[Collection(TinyKernelCollection.Name)]
public class KernelEndToEndTests(TinyKernelFixture fixture)
{
    private static PromptExecutionSettings Auto() => new() { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto() };

    [Fact]
    public async Task InvokePromptAsync_answers_from_the_model()
    {
        var result = await fixture.Kernel.InvokePromptAsync(TinyChatScript.CapitalQuestion);

        Assert.Equal(TinyChatScript.CapitalAnswer, result.ToString());
        Assert.Equal(TinyChatModel.ModelId, result.GetValue<ChatMessageContent>()!.ModelId);
    }

    [Fact]
    public async Task InvokePromptStreamingAsync_streams_the_same_answer()
    {
        var text = new StringBuilder();
        int chunks = 0;
        await foreach (var chunk in fixture.Kernel.InvokePromptStreamingAsync(TinyChatScript.CapitalQuestion))
        {
            text.Append(chunk);
            chunks++;
        }

        Assert.Equal(TinyChatScript.CapitalAnswer, text.ToString());
        Assert.True(chunks > 1, $"expected the answer in several chunks, got {chunks}");
    }

    [Fact]
    public async Task FunctionChoiceBehavior_Auto_calls_the_kernel_plugin_and_answers_from_its_result()
    {
        var (kernel, weather) = fixture.WithWeatherPlugin();

        var result = await kernel.InvokePromptAsync(TinyChatScript.WeatherQuestion, new KernelArguments(Auto()));

        Assert.Equal([TinyChatScript.WeatherCity], weather.Cities);
        Assert.Equal(TinyChatScript.WeatherAnswer, result.ToString());
    }

    [Fact]
    public async Task The_chat_completion_service_calls_the_plugin_and_records_the_round_trip_in_the_history()
    {
        var (kernel, weather) = fixture.WithWeatherPlugin();
        var chat = kernel.GetRequiredService<IChatCompletionService>();
        var history = new ChatHistory();
        history.AddUserMessage(TinyChatScript.WeatherQuestion);

        var answer = await chat.GetChatMessageContentAsync(history, Auto(), kernel);

        Assert.Equal(TinyChatScript.WeatherAnswer, answer.Content);
        Assert.Equal([TinyChatScript.WeatherCity], weather.Cities);
        var call = Assert.Single(history.SelectMany(m => m.Items).OfType<FunctionCallContent>());
        Assert.Equal($"{RecordingWeatherPlugin.PluginName}_{TinyChatScript.WeatherFunctionName}", call.FunctionName);   // the name the model was offered
        Assert.Equal(TinyChatScript.WeatherCity, call.Arguments![TinyChatScript.WeatherParameterName]?.ToString());
        var result = Assert.Single(history.SelectMany(m => m.Items).OfType<FunctionResultContent>());
        Assert.Equal(TinyChatScript.WeatherResult, result.Result?.ToString());
    }

    [Fact]
    public async Task Auto_function_invocation_filters_see_the_call()
    {
        var (kernel, weather) = fixture.WithWeatherPlugin();
        var filter = new RecordingFilter();
        kernel.AutoFunctionInvocationFilters.Add(filter);

        var result = await kernel.InvokePromptAsync(TinyChatScript.WeatherQuestion, new KernelArguments(Auto()));

        Assert.Equal(TinyChatScript.WeatherAnswer, result.ToString());
        Assert.Equal([$"{TinyChatScript.WeatherFunctionName}({TinyChatScript.WeatherCity})"], filter.Calls);
        Assert.Equal([TinyChatScript.WeatherCity], weather.Cities);
    }

    private sealed class RecordingFilter : IAutoFunctionInvocationFilter
    {
        public List<string> Calls { get; } = [];

        public async Task OnAutoFunctionInvocationAsync(AutoFunctionInvocationContext context, Func<AutoFunctionInvocationContext, Task> next)
        {
            Calls.Add($"{context.Function.Name}({context.Arguments?[TinyChatScript.WeatherParameterName]})");
            await next(context);
        }
    }
}
