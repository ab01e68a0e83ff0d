using System.Diagnostics;
using Eagle.AI.Engine.Text;
using Eagle.AI.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using static Eagle.AI.Engine.Demo.TinyChatScript;

namespace Eagle.AI.Tests;

/// <summary>One engine over the trained tiny chat model, speculative, shared by the tests of a class.</summary>
public sealed class TinyChatEngineFixture : IDisposable
{
    public EagleEngine Engine { get; } = new(TinyChatModel.Options());

    public void Dispose() => Engine.Dispose();
}

/// <summary>
/// End to end on a model that says something: real weights trained on the script, the real tokenizer and chat format,
/// speculative decoding with a trained EAGLE-3 head, the tool-call round trip under UseFunctionInvocation.
/// </summary>
public class TinyChatModelTests(TinyChatEngineFixture fixture) : IClassFixture<TinyChatEngineFixture>
{
    private static readonly ChatOptions NoSpeculation = new() { AdditionalProperties = new() { [EagleChatOptionKeys.Speculative] = false } };

    [Theory]
    [InlineData(GreetingQuestion, GreetingAnswer)]
    [InlineData(CapitalQuestion, CapitalAnswer)]
    public async Task Answers_its_script_speculatively_and_drafts_are_accepted(string question, string answer)
    {
        using var client = new EagleChatClient(fixture.Engine);

        var response = await client.GetResponseAsync(question);

        Assert.Equal(answer, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        var counts = response.Usage!.AdditionalCounts!;
        Assert.True(counts[EagleUsageKeys.AcceptedDraftTokens] > 0, "the trained head's drafts should be accepted");
        Assert.True(counts[EagleUsageKeys.MeanAcceptanceLengthX1000] > 2000, $"τ × 1000 = {counts[EagleUsageKeys.MeanAcceptanceLengthX1000]}: the head is trained to be accepted several tokens deep");
        Assert.True(counts[EagleUsageKeys.TargetForwardPasses] < response.Usage.OutputTokenCount);
    }

    // The engine's requests decode in KV slots it reuses: a request after others takes an idle slot, allocates none,
    // and answers the same.
    [Fact]
    public async Task Requests_after_the_first_reuse_its_KV_slot_and_answer_the_same()
    {
        using var client = new EagleChatClient(fixture.Engine);
        var slots = () => ((LoadedModel)fixture.Engine.Decoder).Slots;
        var first = await client.GetResponseAsync(GreetingQuestion, NoSpeculation);
        var before = slots();
        var second = await client.GetResponseAsync(GreetingQuestion, NoSpeculation);
        var after = slots();

        Assert.Equal(first.Text, second.Text);
        Assert.True(before.Idle >= 1, "the first request's slot waits for the next");
        Assert.Equal(before.Allocated, after.Allocated);
        Assert.Equal(before.Reused + 1, after.Reused);
    }

    [Fact]
    public async Task Speculative_and_plain_decoding_give_the_same_answer_under_a_system_prompt()
    {
        using var client = new EagleChatClient(fixture.Engine);
        ChatMessage[] chat = [new(ChatRole.System, "You are a helpful assistant."), new(ChatRole.User, CapitalQuestion)];

        var speculative = await client.GetResponseAsync(chat);
        var plain = await client.GetResponseAsync(chat, NoSpeculation);

        Assert.Equal(CapitalAnswer, speculative.Text);
        Assert.Equal(speculative.Text, plain.Text);
        Assert.Equal(0, plain.Usage!.AdditionalCounts![EagleUsageKeys.AcceptedDraftTokens]);
    }

    [Fact]
    public async Task Keeps_the_history_of_a_two_turn_chat()
    {
        using var client = new EagleChatClient(fixture.Engine);
        List<ChatMessage> chat = [new(ChatRole.User, GreetingQuestion)];
        chat.AddMessages(await client.GetResponseAsync(chat));
        chat.Add(new(ChatRole.User, CapitalQuestion));

        var second = await client.GetResponseAsync(chat);

        Assert.Equal(GreetingAnswer, chat[1].Text);
        Assert.Equal(CapitalAnswer, second.Text);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_second_turn_reuses_the_first_turns_KV_and_says_the_same(bool speculative)
    {
        var options = new ChatOptions { AdditionalProperties = new() { [EagleChatOptionKeys.Speculative] = speculative } };
        using var engine = new EagleEngine(TinyChatModel.Options());                 // its own: nothing retained by other tests
        using var client = new EagleChatClient(engine);
        List<ChatMessage> chat = [new(ChatRole.User, GreetingQuestion)];
        var first = await client.GetResponseAsync(chat, options);
        Assert.Equal(0, first.Usage!.CachedInputTokenCount);
        chat.AddMessages(first);
        chat.Add(new(ChatRole.User, CapitalQuestion));
        var second = await client.GetResponseAsync(chat, options);

        // The follow-up's prompt renders the first turn and its answer exactly as they were fed, so all that went through
        // the target is reused: vanilla never feeds its last token; a speculative round fed it when it came as a draft,
        // and then its draft pair (which needs the token after it) is the one position left to prefill.
        long firstTokens = first.Usage.InputTokenCount!.Value + first.Usage.OutputTokenCount!.Value;
        if (speculative) Assert.InRange(second.Usage!.CachedInputTokenCount!.Value, firstTokens - 2, firstTokens - 1);
        else Assert.Equal(firstTokens - 1, second.Usage!.CachedInputTokenCount);
        Assert.Equal(CapitalAnswer, second.Text);

        var pinned = await client.GetResponseAsync(chat, new ChatOptions { ConversationId = "conversation-7", AdditionalProperties = options.AdditionalProperties });
        Assert.Equal("conversation-7", pinned.ConversationId);                       // the hint comes back; the text does not change
        Assert.Equal(second.Text, pinned.Text);

        var reuseOff = TinyChatModel.Options();
        reuseOff.PrefixCacheTokens = 0;
        using var plain = new EagleEngine(reuseOff);
        var again = await new EagleChatClient(plain).GetResponseAsync(chat, options);
        Assert.Equal(second.Text, again.Text);
        Assert.Equal(0, again.Usage!.CachedInputTokenCount);
    }

    [Fact]
    public async Task After_a_stop_sequence_the_next_turn_reuses_only_what_it_shares()
    {
        // The first answer is cut by a stop sequence inside a round: the engine fed more tokens than the caller saw.
        // The next turn sends the cut text back, so its prompt differs after the cut, and reuse stops there.
        using var engine = new EagleEngine(TinyChatModel.Options());
        using var client = new EagleChatClient(engine);
        List<ChatMessage> chat = [new(ChatRole.User, GreetingQuestion)];
        var first = await client.GetResponseAsync(chat, new ChatOptions { StopSequences = ["tiny"] });
        Assert.Equal("I am Eagle, a ", first.Text);
        chat.AddMessages(first);
        chat.Add(new(ChatRole.User, CapitalQuestion));
        var second = await client.GetResponseAsync(chat);
        long firstPrompt = first.Usage!.InputTokenCount!.Value;
        Assert.InRange(second.Usage!.CachedInputTokenCount!.Value, firstPrompt, firstPrompt + first.Usage.OutputTokenCount!.Value - 1);

        var reuseOff = TinyChatModel.Options();
        reuseOff.PrefixCacheTokens = 0;
        using var plain = new EagleEngine(reuseOff);
        Assert.Equal((await new EagleChatClient(plain).GetResponseAsync(chat)).Text, second.Text);
    }

    [Fact]
    public async Task Under_another_system_prompt_only_the_shared_header_is_reused()
    {
        // The template's opening (BOS, system header, knowledge and date lines) is the same under any system prompt; the
        // conversation after it is not. Reuse stops where the token ids part, and the answer is what it is without reuse.
        using var engine = new EagleEngine(TinyChatModel.Options(speculative: false));
        using var client = new EagleChatClient(engine);
        var first = await client.GetResponseAsync([new(ChatRole.System, "You are a helpful assistant."), new(ChatRole.User, GreetingQuestion)]);
        Assert.Equal(GreetingAnswer, first.Text);
        ChatMessage[] other = [new(ChatRole.System, "You are Eagle. Answer briefly."), new(ChatRole.User, GreetingQuestion)];
        var second = await client.GetResponseAsync(other);

        var format = new Llama3ChatFormat(engine.Tokenizer);
        var a = format.Format([PromptMessage.System("You are a helpful assistant."), PromptMessage.User(GreetingQuestion)]).Ids;
        var b = format.Format([PromptMessage.System("You are Eagle. Answer briefly."), PromptMessage.User(GreetingQuestion)]).Ids;
        int shared = a.Zip(b).TakeWhile(p => p.First == p.Second).Count();
        Assert.InRange(shared, 8, b.Count - 10);                                     // the header, not the conversation
        Assert.Equal(shared, second.Usage!.CachedInputTokenCount);
        Assert.Equal(GreetingAnswer, second.Text);
    }

    [Fact]
    public async Task Calls_the_tool_and_answers_with_its_result_under_UseFunctionInvocation()
    {
        var cities = new List<string>();
        var weather = AIFunctionFactory.Create((string city) =>
        {
            cities.Add(city);
            return WeatherResult;
        }, WeatherFunctionName, WeatherFunctionDescription);
        using var client = new EagleChatClient(fixture.Engine).AsBuilder().UseFunctionInvocation().Build();

        var response = await client.GetResponseAsync(WeatherQuestion, new ChatOptions { Tools = [weather] });

        Assert.Equal([WeatherCity], cities);
        Assert.Equal(WeatherAnswer, response.Text);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
        Assert.Equal(call.CallId, result.CallId);
    }

    [Fact]
    public async Task Streams_the_tool_call_with_the_ToolCalls_finish_reason()
    {
        var weather = AIFunctionFactory.CreateDeclaration(WeatherFunctionName, WeatherFunctionDescription,
            AIFunctionFactory.Create((string city) => city).JsonSchema);
        using var client = new EagleChatClient(fixture.Engine);

        var updates = await ChatAssert.ReadAll(client.GetStreamingResponseAsync(WeatherQuestion, new ChatOptions { Tools = [weather] }));

        ChatAssert.StreamingContract(updates, TinyChatModel.ModelId);
        var call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Equal(WeatherFunctionName, call.Name);
        Assert.Equal(WeatherCity, call.Arguments![WeatherParameterName]?.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
    }

    [Fact]
    public async Task A_target_split_over_two_devices_gives_the_same_answers()
    {
        var options = TinyChatModel.Options();
        options.LayerPlacement = "cpu=0-3;cpu=4-7";
        using var engine = new EagleEngine(options);
        using var client = new EagleChatClient(engine);

        Assert.Equal(CapitalAnswer, (await client.GetResponseAsync(CapitalQuestion)).Text);
        Assert.Equal(GreetingAnswer, (await client.GetResponseAsync(GreetingQuestion, NoSpeculation)).Text);
    }

    [Fact]
    public async Task A_draft_head_on_its_own_device_is_accepted_as_before()
    {
        var options = TinyChatModel.Options();
        options.DraftDevice = "cpu";
        using var engine = new EagleEngine(options);
        using var client = new EagleChatClient(engine);

        var response = await client.GetResponseAsync(CapitalQuestion);

        Assert.Equal(CapitalAnswer, response.Text);
        Assert.True(response.Usage!.AdditionalCounts![EagleUsageKeys.AcceptedDraftTokens] > 0);
    }

    [Fact]
    public void A_placement_that_leaves_layers_out_is_refused_naming_the_option()
    {
        var options = TinyChatModel.Options();
        options.LayerPlacement = "cpu=0-3";

        var e = Assert.Throws<ArgumentException>(() => new EagleEngine(options).Dispose());

        Assert.Contains("EagleOptions.LayerPlacement", e.Message, StringComparison.Ordinal);
        Assert.Contains("layers 4..7 are not placed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseOpenTelemetry_records_a_chat_span_with_the_model_and_the_usage()
    {
        string source = "eagle-test-" + Guid.NewGuid().ToString("N");
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var client = new EagleChatClient(fixture.Engine).AsBuilder().UseOpenTelemetry(sourceName: source).Build();

        var response = await client.GetResponseAsync(CapitalQuestion);

        var span = Assert.Single(spans);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(TinyChatModel.ModelId, span.GetTagItem("gen_ai.response.model"));
        Assert.Equal(response.Usage!.InputTokenCount, Convert.ToInt64(span.GetTagItem("gen_ai.usage.input_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(response.Usage.OutputTokenCount, Convert.ToInt64(span.GetTagItem("gen_ai.usage.output_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("eagle", span.Tags.Select(t => t.Value));
    }

    [Fact]
    public async Task UseDistributedCache_answers_a_repeated_request_without_the_engine()
    {
        int engineCalls = 0;
        var cache = new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions()));
        using var client = new EagleChatClient(fixture.Engine).AsBuilder()
            .UseDistributedCache(cache)
            .Use(async (messages, options, next, cancellationToken) =>
            {
                Interlocked.Increment(ref engineCalls);
                await next(messages, options, cancellationToken);
            })
            .Build();

        var first = await client.GetResponseAsync(GreetingQuestion);
        var second = await client.GetResponseAsync(GreetingQuestion);

        Assert.Equal(GreetingAnswer, first.Text);
        Assert.Equal(first.Text, second.Text);
        Assert.Equal(1, engineCalls);
    }
}
