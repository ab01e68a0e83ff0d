using Eagle.AI.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Services;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>What <c>IKernelBuilder.AddEagleChatClient</c> registers, keyed and not, and how it rejects bad input.</summary>
[Collection(TinyKernelCollection.Name)]
public class KernelRegistrationTests(TinyKernelFixture fixture)
{
    [Fact]
    public void Registers_an_Eagle_chat_client_with_kernel_function_invocation_and_a_completion_service_over_it()
    {
        var kernel = fixture.Kernel;
        var client = kernel.GetRequiredService<IChatClient>();
        var eagle = client.GetService<EagleChatClient>();
        Assert.NotNull(eagle);
        Assert.NotSame(eagle, client);                                                   // wrapped by middleware
        var invoker = client.GetService<FunctionInvokingChatClient>();
        Assert.NotNull(invoker);
        Assert.Equal("KernelFunctionInvokingChatClient", invoker.GetType().Name);         // SK's, so filters run
        var engine = client.GetService<EagleEngine>();
        Assert.Same(kernel.Services.GetRequiredService<EagleEngine>(), engine);
        Assert.True(engine!.HasDraftModel);                                               // the end-to-end tests speculate
        Assert.Same(client, kernel.GetRequiredService<IChatClient>());                    // one singleton

        var completion = kernel.GetRequiredService<IChatCompletionService>();
        Assert.Same(completion, kernel.GetRequiredService<IChatCompletionService>());
        Assert.Equal(TinyChatModel.ModelId, completion.GetModelId());
    }

    [Fact]
    public async Task A_service_id_keys_every_service_binds_its_options_from_configuration_and_selects_it_in_prompts()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelPath"] = TinyChatModel.Folder,
            ["ModelId"] = "keyed-tiny",
            ["Device"] = "cpu",
            ["DType"] = "float32",
            ["MaxOutputTokens"] = $"{TinyKernelFixture.MaxOutputTokens}",
        }).Build();
        var kernel = Kernel.CreateBuilder().AddEagleChatClient(configuration, serviceId: "eagle").Build();
        await using var services = (ServiceProvider)kernel.Services;

        Assert.Null(kernel.Services.GetService<IChatClient>());
        Assert.Null(kernel.Services.GetService<IChatCompletionService>());
        var client = kernel.GetRequiredService<IChatClient>("eagle");
        Assert.NotNull(client.GetService<FunctionInvokingChatClient>());
        Assert.Same(kernel.Services.GetRequiredKeyedService<EagleEngine>("eagle"), client.GetService<EagleEngine>());
        var completion = kernel.GetRequiredService<IChatCompletionService>("eagle");
        Assert.Equal("keyed-tiny", completion.GetModelId());
        Assert.Equal("keyed-tiny", kernel.Services.GetRequiredService<IOptionsMonitor<EagleOptions>>().Get("eagle").ModelId);

        var settings = new PromptExecutionSettings { ServiceId = "eagle" };
        var result = await kernel.InvokePromptAsync(TinyChatScript.CapitalQuestion, new KernelArguments(settings));
        Assert.Equal(TinyChatScript.CapitalAnswer, result.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("eagle")]
    public void Resolving_with_invalid_options_names_the_option(string? serviceId)
    {
        var kernel = Kernel.CreateBuilder().AddEagleChatClient(o => (o.ModelPath, o.Device) = ("/no/such/model", "gpu0"), serviceId).Build();

        var e = Assert.Throws<OptionsValidationException>(() => kernel.GetRequiredService<IChatClient>(serviceId));
        Assert.Contains("EagleOptions.ModelPath '/no/such/model' does not exist", e.Message, StringComparison.Ordinal);
        Assert.Contains("EagleOptions.Device 'gpu0'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<OptionsValidationException>(() => kernel.GetRequiredService<IChatCompletionService>(serviceId));
        Assert.Contains("EagleOptions.ModelPath '/no/such/model' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_validates_the_options_when_it_starts_before_any_request()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();                                                 // the failure is asserted, not logged
        builder.Services.AddKernel().AddEagleChatClient(o => o.ModelPath = null, serviceId: "eagle");
        using var host = builder.Build();

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("EagleOptions.ModelPath is required", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_their_names()
    {
        var configuration = new ConfigurationBuilder().Build();
        Assert.Equal("builder", Assert.Throws<ArgumentNullException>(() => ((IKernelBuilder)null!).AddEagleChatClient(_ => { })).ParamName);
        Assert.Equal("builder", Assert.Throws<ArgumentNullException>(() => ((IKernelBuilder)null!).AddEagleChatClient(configuration)).ParamName);
        Assert.Equal("configure", Assert.Throws<ArgumentNullException>(() => Kernel.CreateBuilder().AddEagleChatClient((Action<EagleOptions>)null!)).ParamName);
        Assert.Equal("configuration", Assert.Throws<ArgumentNullException>(() => Kernel.CreateBuilder().AddEagleChatClient((IConfiguration)null!)).ParamName);
        foreach (string blank in new[] { "", "  " })
        {
            Assert.Equal("serviceId", Assert.Throws<ArgumentException>(() => Kernel.CreateBuilder().AddEagleChatClient(_ => { }, blank)).ParamName);
            Assert.Equal("serviceId", Assert.Throws<ArgumentException>(() => Kernel.CreateBuilder().AddEagleChatClient(configuration, blank)).ParamName);
        }
    }
}
