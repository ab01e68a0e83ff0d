using Eagle.AI.Engine.Drafting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eagle.AI.Tests;

/// <summary>
/// Remote mode's options (<see cref="EagleOptions.Endpoint"/>): the mutually exclusive model folder, the required model
/// id, the URL's form, the timeout's range, and a registration that makes an OpenAI client without loading anything.
/// The client against a real server is tested in Eagle.Samples.Tests (RemoteModeTests).
/// </summary>
public class RemoteModeOptionsTests
{
    private static readonly Uri Server = new("http://127.0.0.1:9/v1");

    private static IReadOnlyList<string> Errors(EagleOptions options) =>
        new EagleOptionsValidator().Validate(null, options) is { Failed: true } result ? [.. result.Failures] : [];

    private static EagleOptions Remote() => new() { Endpoint = Server, ModelId = "served-model" };

    [Fact]
    public void Endpoint_and_ModelId_alone_are_valid()
    {
        Assert.Empty(Errors(Remote()));
        Assert.Empty(Errors(new EagleOptions { Endpoint = new Uri("https://llm.example/v1"), ModelId = "m", ApiKey = "k", MaxOutputTokens = 9, Temperature = 0.7f, TopP = 0.9f }));
    }

    [Fact]
    public void ModelPath_and_Endpoint_are_mutually_exclusive_and_the_error_names_both()
    {
        var options = Remote();
        options.ModelPath = "/models/llama";
        string error = Assert.Single(Errors(options));
        Assert.Contains("EagleOptions.ModelPath '/models/llama'", error, StringComparison.Ordinal);
        Assert.Contains("EagleOptions.Endpoint 'http://127.0.0.1:9/v1'", error, StringComparison.Ordinal);
        Assert.Contains("mutually exclusive", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_draft_head_folder_is_refused_remotely_the_server_loads_its_own()
    {
        var options = Remote();
        options.DraftModelPath = "/models/eagle3";
        string error = Assert.Single(Errors(options));
        Assert.StartsWith("EagleOptions.DraftModelPath '/models/eagle3' cannot be used with EagleOptions.Endpoint", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Remote_mode_needs_the_served_model_name(string? modelId)
    {
        var options = Remote();
        options.ModelId = modelId;
        Assert.StartsWith("EagleOptions.ModelId is required with EagleOptions.Endpoint", Assert.Single(Errors(options)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost:8000/v1")]
    [InlineData("ftp://host/v1")]
    [InlineData("v1/chat")]
    public void The_endpoint_must_be_an_absolute_http_url(string endpoint)
    {
        var options = Remote();
        options.Endpoint = new Uri(endpoint, UriKind.RelativeOrAbsolute);
        Assert.Equal($"EagleOptions.Endpoint '{endpoint}' must be an absolute http or https URL, the API's base address (e.g. http://localhost:8000/v1).",
            Assert.Single(Errors(options)));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(3601)]
    public void The_request_timeout_has_a_range(double seconds)
    {
        var options = Remote();
        options.RequestTimeout = TimeSpan.FromSeconds(seconds);
        Assert.StartsWith("EagleOptions.RequestTimeout", Assert.Single(Errors(options)), StringComparison.Ordinal);
    }

    [Fact]
    public void Local_engine_options_are_not_checked_remotely_but_the_request_defaults_are()
    {
        var options = Remote();
        (options.Device, options.MaxBatchSize, options.Temperature) = ("gpu", 0, -1f);
        string error = Assert.Single(Errors(options));
        Assert.StartsWith("EagleOptions.Temperature -1", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_endpoint_means_the_local_engine()
    {
        // Eagle__Endpoint= (empty) switches a deployment back to in-process: then ModelPath is what is missing.
        var options = new EagleOptions { Endpoint = new Uri("", UriKind.RelativeOrAbsolute) };
        string error = Assert.Single(Errors(options));
        Assert.StartsWith("EagleOptions.ModelPath is required", error, StringComparison.Ordinal);
        Assert.Contains("or set EagleOptions.Endpoint", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configuration_with_an_Endpoint_registers_an_OpenAI_client_and_loads_no_engine()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Eagle:Endpoint"] = "http://127.0.0.1:9/v1",
            ["Eagle:ModelId"] = "served-model",
            ["Eagle:ApiKey"] = "secret",
            ["Eagle:RequestTimeout"] = "01:00:00",
            ["Eagle:Device"] = "cuda",
            ["Eagle:Tree:TotalTokens"] = "8",
        }).Build();
        var logs = new ListLogger<RemoteModeOptionsTests>();
        var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Information));
        var builder = services.AddEagleChatClient(configuration.GetSection("Eagle")).UseFunctionInvocation();
        Assert.IsType<ChatClientBuilder>(builder);
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<EagleOptions>>().Value;
        Assert.Equal(new Uri("http://127.0.0.1:9/v1"), options.Endpoint);
        Assert.Equal(TimeSpan.FromHours(1), options.RequestTimeout);   // the longest timeout still makes a valid resilience pipeline
        var client = provider.GetRequiredService<IChatClient>();
        Assert.NotNull(client.GetService<FunctionInvokingChatClient>());
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("served-model", metadata?.DefaultModelId);
        Assert.Equal("openai", metadata?.ProviderName);
        Assert.Null(client.GetService<EagleEngine>());
        Assert.Contains(logs.Entries, e => e.Message.Contains("ignores these local-engine options", StringComparison.Ordinal)
            && e.Message.Contains("Device, Tree", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_keyed_remote_client_starts_with_its_host_without_a_model_folder()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddKeyedEagleChatClient("remote", o => (o.Endpoint, o.ModelId, o.Warmup, o.RequestTimeout) = (Server, "m", true, TimeSpan.FromSeconds(1)));
        await using var provider = services.BuildServiceProvider();
        // Validation on start and the warm-up service pass: remote mode has no engine to warm.
        foreach (var hosted in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
            await hosted.StartAsync(CancellationToken.None);
        Assert.Equal("m", provider.GetRequiredKeyedService<IChatClient>("remote").GetService<ChatClientMetadata>()?.DefaultModelId);
    }

    [Fact]
    public async Task Both_a_model_folder_and_an_endpoint_fail_the_host_start_once()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddEagleChatClient(o => (o.Endpoint, o.ModelId, o.ModelPath) = (Server, "m", "/models/llama"));
        using var host = builder.Build();
        // Exactly one OptionsValidationException (not an aggregate): the HTTP resilience options, validated at start
        // too, read the timeout without validating EagleOptions a second time.
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("mutually exclusive", Assert.Single(e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registering_twice_gives_one_HTTP_client_with_one_resilience_handler()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddEagleChatClient(o => (o.Endpoint, o.ModelId) = (Server, "first"));
        services.AddEagleChatClient(o => o.ModelId = "second");   // the same (default) options, configured further
        await using var provider = services.BuildServiceProvider();
        Assert.Equal("second", provider.GetRequiredService<IChatClient>().GetService<ChatClientMetadata>()?.DefaultModelId);
        var handlers = provider.GetRequiredService<IHttpMessageHandlerFactory>()
            .CreateHandler(RemoteChatClient.HttpClientName(""));
        int resilience = 0;
        for (HttpMessageHandler? h = handlers; h is DelegatingHandler d; h = d.InnerHandler)
            if (h is Microsoft.Extensions.Http.Resilience.ResilienceHandler) resilience++;
        Assert.Equal(1, resilience);   // two would retry each other's retries
    }

    [Fact]
    public void Ignored_options_are_those_that_differ_from_the_defaults()
    {
        Assert.Empty(RemoteChatClient.IgnoredOptions(Remote()));
        var options = Remote();
        (options.MaxContextTokens, options.Warmup, options.TopK, options.Tree) = (4096, true, 40, TreeSettings.Default);
        Assert.Equal(["MaxContextTokens", "Tree", "Warmup", "TopK"], RemoteChatClient.IgnoredOptions(options));
    }
}
