using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Services;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>
/// <c>IKernelBuilder.AddEagleChatClient</c> in remote mode: the same kernel services (SK's function invocation, the
/// completion service over the one client) over an OpenAI-compatible server's client, and no engine. Requests to a
/// real server are tested in Eagle.Samples.Tests (RemoteModeTests).
/// </summary>
public class RemoteKernelRegistrationTests
{
    [Fact]
    public void An_Endpoint_in_configuration_gives_the_kernel_a_remote_client_with_the_same_pipeline()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Eagle:Endpoint"] = "http://127.0.0.1:9/v1",
            ["Eagle:ModelId"] = "meta-llama/Llama-3.1-8B-Instruct",
        }).Build();
        var builder = Kernel.CreateBuilder();
        builder.AddEagleChatClient(configuration.GetSection("Eagle"));
        var kernel = builder.Build();

        var client = kernel.GetRequiredService<IChatClient>();
        Assert.Equal("KernelFunctionInvokingChatClient", client.GetService<FunctionInvokingChatClient>()?.GetType().Name);
        Assert.Null(client.GetService<EagleChatClient>());
        Assert.Null(client.GetService<EagleEngine>());
        Assert.Equal("openai", client.GetService<ChatClientMetadata>()?.ProviderName);
        Assert.Equal("meta-llama/Llama-3.1-8B-Instruct", kernel.GetRequiredService<IChatCompletionService>().GetModelId());
    }
}
