using System.Text.Json;
using Eagle.AI.Testing;
using Json.Schema;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>
/// <c>FunctionChoiceBehavior.Required()</c> on the tiny chat model: asked something it answers in prose (the capital
/// question), it must still call a plugin function, and the call is enforced by constrained decoding, so it parses into
/// a call to an offered function with arguments valid for that function's parameter schema.
/// </summary>
[Collection(TinyKernelCollection.Name)]
public class RequiredFunctionChoiceTests(TinyKernelFixture fixture)
{
    [Fact]
    public async Task Required_makes_the_answer_a_parsed_call_to_the_plugin_with_schema_valid_arguments()
    {
        var (kernel, weather) = fixture.WithWeatherPlugin();
        var chat = kernel.GetRequiredService<IChatCompletionService>();
        var history = new ChatHistory();
        history.AddUserMessage(TinyChatScript.CapitalQuestion);
        var settings = new PromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required(autoInvoke: false) };

        var answer = await chat.GetChatMessageContentAsync(history, settings, kernel);

        var call = Assert.Single(answer.Items.OfType<FunctionCallContent>());
        Assert.Equal($"{RecordingWeatherPlugin.PluginName}_{TinyChatScript.WeatherFunctionName}", call.FunctionName);
        var function = kernel.Plugins.GetFunction(RecordingWeatherPlugin.PluginName, TinyChatScript.WeatherFunctionName);
        var arguments = JsonSerializer.SerializeToElement(call.Arguments!.ToDictionary(a => a.Key, a => a.Value));
        // Draft 2020-12 ignores keywords outside the specification, like the "condition" Semantic Kernel writes.
        var schema = JsonSchema.FromText(function.JsonSchema.GetRawText(), new BuildOptions { Dialect = Dialect.Draft202012 });
        Assert.True(schema.Evaluate(arguments).IsValid, $"{arguments} is not valid for {function.JsonSchema}");
        Assert.Empty(weather.Cities);                                                   // not invoked: autoInvoke is off
    }

    [Fact]
    public async Task Required_with_auto_invoke_calls_the_plugin_once_where_auto_would_not()
    {
        var (kernel, weather) = fixture.WithWeatherPlugin();

        var auto = await kernel.InvokePromptAsync(TinyChatScript.CapitalQuestion,
            new KernelArguments(new PromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto() }));
        Assert.Equal(TinyChatScript.CapitalAnswer, auto.ToString());
        Assert.Empty(weather.Cities);

        await kernel.InvokePromptAsync(TinyChatScript.CapitalQuestion,
            new KernelArguments(new PromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required() }));
        Assert.Single(weather.Cities);
    }
}
