// An agent (Microsoft Agent Framework's ChatClientAgent) running on a local LLaMA-3 model through Eagle.AI, with a
// Semantic Kernel plugin as its tool. Configuration: appsettings.json, environment variables (Eagle__ModelPath=...)
// and the command line (--Eagle:ModelPath /models/llama --Question "What is the weather in Tokyo?").
using Eagle.Samples.Agents;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using FunctionCallContent = Microsoft.Extensions.AI.FunctionCallContent;
using FunctionResultContent = Microsoft.Extensions.AI.FunctionResultContent;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddKernel()
    .AddEagleChatClient(builder.Configuration.GetSection("Eagle"))
    .Plugins.AddFromType<WeatherPlugin>("Weather");

using var host = builder.Build();
try
{
    await host.StartAsync();   // validates the Eagle options (and loads the model when Eagle:Warmup is true)
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"Check the Eagle section of appsettings.json (or --Eagle:ModelPath <folder>): {e.Message}");
    return 1;
}

string question = builder.Configuration["Question"] ?? "What is the weather in Paris?";
var agent = WeatherAgent.Create(host.Services.GetRequiredService<Kernel>());
Console.WriteLine($"> {question}");
var response = await agent.RunAsync(question);
foreach (var content in response.Messages.SelectMany(m => m.Contents))
{
    if (content is FunctionCallContent call)
        Console.WriteLine($"  [tool] {call.Name}({string.Join(", ", call.Arguments?.Select(a => $"{a.Key}: {a.Value}") ?? [])})");
    else if (content is FunctionResultContent result)
        Console.WriteLine($"  [tool result] {result.Result}");
}
Console.WriteLine(response.Text);
await host.StopAsync();
return 0;
