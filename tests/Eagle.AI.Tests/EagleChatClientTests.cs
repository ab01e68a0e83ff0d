using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.AI;
using static TorchSharp.torch;

namespace Eagle.AI.Tests;

/// <summary>The client over the tiny random model: the streaming contract, exactness, and every honoured option.</summary>
public class EagleChatClientTests
{
    private static readonly ChatMessage[] Hello = [new(ChatRole.User, "Hello there, who are you?")];
    private static readonly Lock ReferenceGate = new();
    private static readonly Lazy<LlamaForCausalLM> Reference = new(() => LlamaCheckpoint.Load(TestModel.Folder, ScalarType.Float32, CPU));

    private static EagleChatClient Client() => new(TestModel.Engine);

    [Fact]
    public async Task Streaming_keeps_the_contract_and_its_text_is_the_non_streaming_text()
    {
        using var client = Client();
        var options = new ChatOptions { MaxOutputTokens = 20 };
        var updates = await ChatAssert.ReadAll(client.GetStreamingResponseAsync(Hello, options));
        var response = await client.GetResponseAsync(Hello, options);

        ChatAssert.StreamingContract(updates, TestModel.Engine.ModelId);
        Assert.True(updates.Count > 2, "text should stream in several updates");
        Assert.IsType<GenerationResult>(updates[^1].RawRepresentation);
        Assert.Equal(response.Text, ChatAssert.Text(updates));
        Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
        Assert.Equal(updates[^1].FinishReason, response.FinishReason);
        Assert.Equal(TestModel.Engine.ModelId, response.ModelId);

        var usage = response.Usage!;
        Assert.True(usage.InputTokenCount > 20);
        Assert.Equal(20, usage.OutputTokenCount);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        var counts = usage.AdditionalCounts!;
        Assert.InRange(counts[EagleUsageKeys.TargetForwardPasses], 1, 20);
        Assert.Equal(counts[EagleUsageKeys.TargetForwardPasses] - 1, counts[EagleUsageKeys.DecodingRounds]);
        Assert.Equal(20 - counts[EagleUsageKeys.TargetForwardPasses], counts[EagleUsageKeys.AcceptedDraftTokens]);
        Assert.Equal((long)Math.Round(19 * 1000.0 / counts[EagleUsageKeys.DecodingRounds]), counts[EagleUsageKeys.MeanAcceptanceLengthX1000]);
    }

    [Fact]
    public async Task Greedy_text_is_the_vanilla_decode_of_the_same_prompt_ids()
    {
        using var client = Client();
        var response = await client.GetResponseAsync(Hello, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 });

        var prompt = new Llama3ChatFormat(TestModel.Tokenizer).Format([PromptMessage.User(Hello[0].Text)]);
        GenerationResult expected;
        lock (ReferenceGate)
            expected = new VanillaGenerator(Reference.Value).Generate(prompt.Ids,
                new GenerationOptions { MaxNewTokens = 24, StopTokenIds = Scripted.StopIds });
        Assert.Equal(TestModel.Tokenizer.Decode(expected.OutputIds), response.Text);
        Assert.Equal(prompt.Ids.Count, response.Usage!.InputTokenCount);
        Assert.Equal(expected.OutputIds.Count, response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Speculation_on_and_off_give_the_same_text_at_temperature_zero()
    {
        using var client = Client();
        ChatOptions Options(bool speculative) => new()
        {
            Temperature = 0,
            MaxOutputTokens = 24,
            AdditionalProperties = new() { [EagleChatOptionKeys.Speculative] = speculative },
        };
        var on = await client.GetResponseAsync(Hello, Options(true));
        var off = await client.GetResponseAsync(Hello, Options(false));

        Assert.Equal(off.Text, on.Text);
        Assert.Equal(off.Usage!.OutputTokenCount, on.Usage!.OutputTokenCount);
        var plain = off.Usage.AdditionalCounts!;
        Assert.Equal(off.Usage.OutputTokenCount, plain[EagleUsageKeys.TargetForwardPasses]);
        Assert.Equal(0, plain[EagleUsageKeys.AcceptedDraftTokens]);
        Assert.Equal(1000, plain[EagleUsageKeys.MeanAcceptanceLengthX1000]);
        Assert.True(on.Usage.AdditionalCounts![EagleUsageKeys.MeanAcceptanceLengthX1000] >= 1000);
    }

    [Fact]
    public async Task A_bigger_tree_per_request_changes_nothing_in_the_text()
    {
        using var client = Client();
        var small = await client.GetResponseAsync(Hello, new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        var big = await client.GetResponseAsync(Hello, new ChatOptions
        {
            Temperature = 0,
            MaxOutputTokens = 12,
            AdditionalProperties = new() { [EagleChatOptionKeys.TreeTotalTokens] = 16, [EagleChatOptionKeys.TreeDepth] = "4" },
        });
        Assert.Equal(small.Text, big.Text);
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible_and_the_seed_matters()
    {
        using var client = Client();
        ChatOptions Options(long seed) => new() { Temperature = 1.5f, TopK = 50, TopP = 0.95f, Seed = seed, MaxOutputTokens = 16 };
        var a = await client.GetResponseAsync(Hello, Options(1));
        var b = await client.GetResponseAsync(Hello, Options(1));
        var c = await client.GetResponseAsync(Hello, Options(2));
        Assert.Equal(a.Text, b.Text);
        Assert.NotEqual(a.Text, c.Text);
    }

    [Fact]
    public async Task A_stop_sequence_is_held_back_never_partly_shown_and_ends_with_Stop()
    {
        using var client = Client();
        var free = await client.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 40 });
        string full = free.Text;
        Assert.True(full.Length > 30, $"the free answer is too short to cut: '{full}'");
        string stop = full.Substring(full.Length / 2, 4);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var options = new ChatOptions { MaxOutputTokens = 40, StopSequences = ["never generated \u0001", stop] };
        var updates = await ChatAssert.ReadAll(client.GetStreamingResponseAsync(Hello, options));

        ChatAssert.StreamingContract(updates, TestModel.Engine.ModelId);
        // Shown text is never taken back, so the concatenation being a clean prefix means no part of the stop was shown.
        Assert.Equal(expected, ChatAssert.Text(updates));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        var usage = updates[^1].Contents.OfType<UsageContent>().Single().Details;
        Assert.True(usage.OutputTokenCount < 40, "generation should end at the stop sequence");
    }

    [Fact]
    public async Task MaxOutputTokens_ends_the_answer_with_Length()
    {
        using var client = Client();
        var response = await client.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 5 });
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task The_callers_options_are_not_changed()
    {
        using var client = Client();
        var tool = AIFunctionFactory.Create((string city) => city, "get_weather");
        var stops = new List<string> { "xyz" };
        var tools = new List<AITool> { tool };
        var properties = new AdditionalPropertiesDictionary { [EagleChatOptionKeys.Speculative] = false };
        var options = new ChatOptions
        {
            MaxOutputTokens = 6, Temperature = 0.5f, Seed = 3, StopSequences = stops, Tools = tools,
            ToolMode = ChatToolMode.Auto, Instructions = "Be brief.", AdditionalProperties = properties,
        };
        await client.GetResponseAsync(Hello, options);
        await ChatAssert.ReadAll(client.GetStreamingResponseAsync(Hello, options));

        Assert.Equal(6, options.MaxOutputTokens);
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(3, options.Seed);
        Assert.Null(options.TopP);
        Assert.Null(options.TopK);
        Assert.Null(options.ModelId);
        Assert.Same(stops, options.StopSequences);
        Assert.Equal(["xyz"], stops);
        Assert.Same(tools, options.Tools);
        Assert.Equal([tool], tools);
        Assert.Equal(ChatToolMode.Auto, options.ToolMode);
        Assert.Equal("Be brief.", options.Instructions);
        Assert.Same(properties, options.AdditionalProperties);
        Assert.Single(properties);
    }

    public static TheoryData<string, ChatOptions> InvalidOptions => new()
    {
        { "Temperature", new ChatOptions { Temperature = -0.1f } },
        { "Temperature", new ChatOptions { Temperature = float.NaN } },
        { "TopP", new ChatOptions { TopP = 0f } },
        { "TopP", new ChatOptions { TopP = 1.5f } },
        { "TopK", new ChatOptions { TopK = -1 } },
        { "MaxOutputTokens", new ChatOptions { MaxOutputTokens = 0 } },
        { "StopSequences", new ChatOptions { StopSequences = ["ok", ""] } },
        { "ToolMode", new ChatOptions { ToolMode = ChatToolMode.RequireAny } },
        { "ToolMode", new ChatOptions { ToolMode = ChatToolMode.RequireSpecific("missing"), Tools = [AIFunctionFactory.Create(() => 1, "present")] } },
        { EagleChatOptionKeys.Speculative, new ChatOptions { AdditionalProperties = new() { [EagleChatOptionKeys.Speculative] = "maybe" } } },
        { EagleChatOptionKeys.TreeTotalTokens, new ChatOptions { AdditionalProperties = new() { [EagleChatOptionKeys.TreeTotalTokens] = 1 } } },
        { EagleChatOptionKeys.TreeDepth, new ChatOptions { AdditionalProperties = new() { [EagleChatOptionKeys.TreeDepth] = 2.5 } } },
        { EagleChatOptionKeys.TreeTopK, new ChatOptions { AdditionalProperties = new() { [EagleChatOptionKeys.TreeTopK] = 0 } } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public async Task Invalid_options_throw_ArgumentOutOfRangeException_naming_the_option(string option, ChatOptions options)
    {
        using var client = Client();
        var streaming = Assert.Throws<ArgumentOutOfRangeException>(() => client.GetStreamingResponseAsync(Hello, options));
        var plain = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Hello, options));
        Assert.Equal(option, streaming.ParamName);
        Assert.Equal(option, plain.ParamName);
        Assert.Contains(option, streaming.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_model_id_is_a_clear_error_and_this_one_is_accepted()
    {
        using var client = Client();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Hello, new ChatOptions { ModelId = "gpt-4o" }));
        Assert.Contains("gpt-4o", e.Message, StringComparison.Ordinal);
        Assert.Contains(TestModel.Engine.ModelId, e.Message, StringComparison.Ordinal);

        var ok = await client.GetResponseAsync(Hello, new ChatOptions { ModelId = TestModel.Engine.ModelId.ToUpperInvariant(), MaxOutputTokens = 2 });
        Assert.Equal(2, ok.Usage!.OutputTokenCount);
    }

    [Fact]
    public void GetService_answers_metadata_engine_tokenizer_and_the_client()
    {
        using var client = Client();
        var metadata = client.GetService<ChatClientMetadata>()!;
        Assert.Equal("eagle", metadata.ProviderName);
        Assert.Equal(TestModel.Engine.ModelId, metadata.DefaultModelId);
        Assert.Equal(Path.GetFileName(TestModel.Folder), metadata.DefaultModelId);
        Assert.Equal(new Uri(TestModel.Engine.ModelPath), metadata.ProviderUri);
        Assert.True(metadata.ProviderUri!.IsFile);
        Assert.Same(TestModel.Engine, client.GetService<EagleEngine>());
        Assert.Same(TestModel.Engine.Tokenizer, client.GetService<Llama3Tokenizer>());
        Assert.Same(client, client.GetService<EagleChatClient>());
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Null(client.GetService<EagleEngine>("some key"));
        Assert.Null(client.GetService<string>());
        Assert.Throws<ArgumentNullException>(() => client.GetService(null!));
    }

    [Fact]
    public async Task No_messages_is_an_ArgumentException_and_null_an_ArgumentNullException()
    {
        using var client = Client();
        Assert.Throws<ArgumentException>(() => client.GetStreamingResponseAsync([]));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([]));
        await Assert.ThrowsAsync<ArgumentNullException>(() => client.GetResponseAsync((IEnumerable<ChatMessage>)null!));
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_a_clear_error()
    {
        using var client = Client();
        string huge = string.Concat(Enumerable.Repeat("word ", TestModel.Engine.MaxContextTokens + 10));
        var e = await Assert.ThrowsAsync<ContextLengthExceededException>(() => client.GetResponseAsync([new(ChatRole.User, huge)]));
        Assert.Contains("context limit", e.Message, StringComparison.Ordinal);
        Assert.Equal(TestModel.Engine.MaxContextTokens, e.ContextTokens);
        Assert.True(e.PromptTokens > e.ContextTokens);
        Assert.Equal("messages", e.ParamName);
    }

    [Fact]
    public async Task Disposing_a_client_over_a_shared_engine_leaves_the_engine_running()
    {
        var client = Client();
        client.Dispose();
        using var again = Client();
        var response = await again.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 1 });
        Assert.Equal(1, response.Usage!.OutputTokenCount);
    }
}
