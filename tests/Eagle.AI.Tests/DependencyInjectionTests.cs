using Eagle.AI.Engine.Drafting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eagle.AI.Tests;

/// <summary>Registration from code and from configuration, keyed clients, validation at start, and middleware composition.</summary>
public class DependencyInjectionTests
{
    private static readonly ChatMessage[] Hi = [new(ChatRole.User, "Hi")];

    private static void UseTestModel(EagleOptions o)
    {
        var t = TestModel.Options();
        (o.ModelPath, o.DraftModelPath, o.Device, o.DType, o.Tree) = (t.ModelPath, t.DraftModelPath, t.Device, t.DType, t.Tree);
    }

    [Fact]
    public async Task AddEagleChatClient_from_code_serves_requests_and_the_container_owns_the_engine()
    {
        var services = new ServiceCollection();
        var builder = services.AddEagleChatClient(UseTestModel);
        Assert.IsType<ChatClientBuilder>(builder);
        EagleEngine engine;
        await using (var provider = services.BuildServiceProvider())
        {
            var client = provider.GetRequiredService<IChatClient>();
            engine = provider.GetRequiredService<EagleEngine>();
            Assert.Same(engine, client.GetService<EagleEngine>());
            Assert.True(engine.HasDraftModel);
            var response = await client.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 3 });
            Assert.Equal(3, response.Usage!.OutputTokenCount);
        }
        Assert.Throws<ObjectDisposedException>(() => { _ = engine.GenerateAsync([1], new()); });
    }

    [Fact]
    public async Task AddEagleChatClient_from_configuration_binds_every_option()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Eagle:ModelPath"] = TestModel.Folder,
            ["Eagle:DraftModelPath"] = TestModel.DraftFolder,
            ["Eagle:ModelId"] = "tiny-from-config",
            ["Eagle:Device"] = "cpu",
            ["Eagle:DType"] = "float32",
            ["Eagle:MaxContextTokens"] = "512",
            ["Eagle:Speculative"] = "false",
            ["Eagle:MaxOutputTokens"] = "4",
            ["Eagle:Temperature"] = "0.5",
            ["Eagle:TopP"] = "0.8",
            ["Eagle:TopK"] = "20",
            ["Eagle:Tree:TotalTokens"] = "8",
            ["Eagle:Tree:Depth"] = "3",
            ["Eagle:Tree:TopK"] = "4",
        }).Build();
        var services = new ServiceCollection();
        services.AddEagleChatClient(configuration.GetSection("Eagle"));
        await using var provider = services.BuildServiceProvider();

        var o = provider.GetRequiredService<IOptions<EagleOptions>>().Value;
        Assert.Equal((TestModel.Folder, TestModel.DraftFolder, "tiny-from-config", "cpu", "float32"), (o.ModelPath, o.DraftModelPath, o.ModelId, o.Device, o.DType));
        Assert.Equal((512, false, 4, 0.5f, 0.8f, 20), (o.MaxContextTokens, o.Speculative, o.MaxOutputTokens, o.Temperature, o.TopP, o.TopK));
        Assert.Equal(TestModel.SmallTree, o.Tree);

        var client = provider.GetRequiredService<IChatClient>();
        Assert.Equal("tiny-from-config", client.GetService<ChatClientMetadata>()!.DefaultModelId);
        var response = await client.GetResponseAsync(Hi);
        Assert.Equal(4, response.Usage!.OutputTokenCount);                                       // the configured default
        Assert.Equal(4, response.Usage.AdditionalCounts![EagleUsageKeys.TargetForwardPasses]);    // Speculative = false
        Assert.Equal(512, provider.GetRequiredService<EagleEngine>().MaxContextTokens);
    }

    [Fact]
    public async Task Keyed_registrations_get_their_own_options_engine_and_client()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelPath"] = TestModel.Folder, ["Device"] = "cpu", ["DType"] = "float32", ["ModelId"] = "second",
        }).Build();
        var services = new ServiceCollection();
        services.AddKeyedEagleChatClient("first", o =>
        {
            UseTestModel(o);
            o.ModelId = "first";
        });
        services.AddKeyedEagleChatClient("second", configuration);
        await using var provider = services.BuildServiceProvider();

        Assert.Null(provider.GetService<IChatClient>());
        var first = provider.GetRequiredKeyedService<IChatClient>("first");
        var second = provider.GetRequiredKeyedService<IChatClient>("second");
        Assert.Equal("first", first.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal("second", second.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Same(provider.GetRequiredKeyedService<EagleEngine>("first"), first.GetService<EagleEngine>());
        Assert.NotSame(first.GetService<EagleEngine>(), second.GetService<EagleEngine>());
        Assert.False(second.GetService<EagleEngine>()!.HasDraftModel);
        Assert.Equal("second", provider.GetRequiredService<IOptionsMonitor<EagleOptions>>().Get("second").ModelId);
        var response = await second.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 2 });
        Assert.Equal("second", response.ModelId);
    }

    public static TheoryData<string, string[]> BadOptions => new()
    {
        { "missing ModelPath", ["EagleOptions.ModelPath is required"] },
        { "missing folder", ["EagleOptions.ModelPath '/no/such/model'", "does not exist"] },
        { "bad Device", ["EagleOptions.Device 'gpu0'"] },
        { "bad DType", ["EagleOptions.DType 'int8'"] },
        { "bad draft", ["EagleOptions.DraftModelPath '/no/such/draft'"] },
        { "bad context", ["EagleOptions.MaxContextTokens 1"] },
        { "bad tree", ["EagleOptions.Tree", "TotalTokens"] },
        { "bad draft device", ["EagleOptions.DraftDevice 'gpu:1'"] },
        { "bad placement", ["EagleOptions.LayerPlacement 'cpu=0-3;gpu=4-7'", "'gpu=4-7'"] },
        { "placement off the device", ["EagleOptions.LayerPlacement 'cuda:1=0-7'", "EagleOptions.Device 'cpu'"] },
        { "placement with a gap", ["EagleOptions.LayerPlacement 'cpu=0-3;cpu=5-7'", "starts at layer 5"] },
        { "bad sampling", ["EagleOptions.Temperature -1", "EagleOptions.TopP 2", "EagleOptions.TopK -3", "EagleOptions.MaxOutputTokens 0"] },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public async Task Invalid_options_fail_the_host_start_naming_the_option(string problem, string[] expected)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddEagleChatClient(o =>
        {
            UseTestModel(o);
            switch (problem)
            {
                case "missing ModelPath": o.ModelPath = null; break;
                case "missing folder": o.ModelPath = "/no/such/model"; break;
                case "bad Device": o.Device = "gpu0"; break;
                case "bad DType": o.DType = "int8"; break;
                case "bad draft": o.DraftModelPath = "/no/such/draft"; break;
                case "bad context": o.MaxContextTokens = 1; break;
                case "bad tree": o.Tree = new TreeSettings { TotalTokens = 1 }; break;
                case "bad draft device": o.DraftDevice = "gpu:1"; break;
                case "bad placement": o.LayerPlacement = "cpu=0-3;gpu=4-7"; break;
                case "placement off the device": o.LayerPlacement = "cuda:1=0-7"; break;
                case "placement with a gap": o.LayerPlacement = "cpu=0-3;cpu=5-7"; break;
                default: (o.Temperature, o.TopP, o.TopK, o.MaxOutputTokens) = (-1, 2, -3, 0); break;
            }
        });
        using var host = builder.Build();

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        foreach (string fragment in expected) Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_keyed_registration_is_validated_at_start_under_its_key()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddKeyedEagleChatClient("broken", o => o.Device = "tpu");
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal("broken", e.OptionsName);
        Assert.Contains("EagleOptions.Device 'tpu'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warmup_loads_at_host_start_and_loading_reports_progress_through_the_logger()
    {
        var log = new ListLogger<EagleEngine>();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(log).SetMinimumLevel(LogLevel.Information);
        builder.Services.AddEagleChatClient(o =>
        {
            UseTestModel(o);
            o.Warmup = true;
        });
        using var host = builder.Build();

        await host.StartAsync();

        var messages = log.Entries.Select(e => e.Message).ToList();
        Assert.Contains(messages, m => m.StartsWith("Loading model", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("Loading target:", StringComparison.Ordinal) && m.EndsWith(" tensors", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("Loading draft head:", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("Loaded ", StringComparison.Ordinal) && m.Contains("Eagle3", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("Warm-up request took", StringComparison.Ordinal));
        // Constrained decoding's token trie is built at load, before any constrained request (the warm-up is not one).
        Assert.Contains(messages, m => m.StartsWith("Token trie for constrained decoding: ", StringComparison.Ordinal));
        Assert.True(Engine.Constraints.TokenTrie.IsBuilt(host.Services.GetRequiredService<EagleEngine>().Tokenizer));
        Assert.Contains(messages, m => m.StartsWith("Request done: ", StringComparison.Ordinal));   // the request summary, at Information
        // the memory a batch and the prefix cache take, sized for this machine (no PrefixCacheTokens given)
        Assert.Contains(messages, m => m.StartsWith("Batching: up to 8 requests decoded together, each in a KV slot reused by later requests (up to 8 kept idle); a request's KV takes", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("Prefix cache: up to ", StringComparison.Ordinal) && m.Contains("a quarter of the", StringComparison.Ordinal));
        await host.StopAsync();
    }

    [Fact]
    public async Task Middleware_composes_on_the_returned_builder()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEagleChatClient(UseTestModel).UseLogging().UseFunctionInvocation();
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<IChatClient>();
        Assert.IsType<LoggingChatClient>(client);   // the first Use is the outermost
        Assert.NotNull(client.GetService<FunctionInvokingChatClient>());
        Assert.NotNull(client.GetService<EagleChatClient>());
        Assert.Equal("eagle", client.GetService<ChatClientMetadata>()!.ProviderName);
        var response = await client.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 2, Tools = [AIFunctionFactory.Create(() => 1, "one")] });
        Assert.Equal(2, response.Usage!.OutputTokenCount);
    }
}
