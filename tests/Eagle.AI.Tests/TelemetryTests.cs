using System.Diagnostics;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using static Eagle.AI.Engine.Demo.TinyChatScript;
using T = Eagle.AI.EngineTelemetry;

namespace Eagle.AI.Tests;

/// <summary>The tiny chat engine with every log message kept, for the telemetry tests.</summary>
public sealed class LoggedTinyChatEngineFixture : IDisposable
{
    public LoggedTinyChatEngineFixture()
    {
        Factory = LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
        Engine = new EagleEngine(TinyChatModel.Options(), Factory);
    }

    internal ListLogger<EagleEngine> Logs { get; } = new();

    public ILoggerFactory Factory { get; }

    public EagleEngine Engine { get; }

    public void Dispose()
    {
        Engine.Dispose();
        Factory.Dispose();
    }
}

/// <summary>
/// The engine's metrics and spans after real requests on the tiny chat model: they agree with the response's usage
/// and EAGLE counters, the gauges return to zero, the spans nest, and no text leaks unless content recording is on.
/// Listeners are tied to this engine's own meter and activity source, so tests running in parallel cannot disturb them.
/// </summary>
public class TelemetryTests(LoggedTinyChatEngineFixture fixture) : IClassFixture<LoggedTinyChatEngineFixture>
{
    private EngineTelemetry Telemetry => fixture.Engine.Telemetry;

    [Fact]
    public async Task A_chat_requests_GenAI_metrics_agree_with_its_response()
    {
        using var recorder = new InstrumentRecorder(Telemetry.Meter);
        using var client = new EagleChatClient(fixture.Engine);

        var response = await client.GetResponseAsync(GreetingQuestion);

        Assert.Equal(GreetingAnswer, response.Text);
        var usage = response.Usage!;
        var duration = Assert.Single(recorder.Of(T.RequestDurationName));
        var ttft = Assert.Single(recorder.Values(T.TimeToFirstTokenName));
        var perToken = Assert.Single(recorder.Values(T.TimePerOutputTokenName));
        Assert.InRange(ttft, double.Epsilon, duration.Value);
        Assert.Equal((duration.Value - ttft) / (usage.OutputTokenCount!.Value - 1), perToken, 9);
        Assert.Equal(T.Chat, duration.Tags[T.OperationNameKey]);
        Assert.Equal(EagleTelemetry.ProviderName, duration.Tags[T.ProviderNameKey]);
        Assert.Equal(TinyChatModel.ModelId, duration.Tags[T.RequestModelKey]);
        Assert.Equal(TinyChatModel.ModelId, duration.Tags[T.ResponseModelKey]);
        Assert.False(duration.Tags.ContainsKey(T.ErrorTypeKey));

        var tokens = recorder.Of(T.TokenUsageName);
        Assert.Equal(2, tokens.Count);
        Assert.Equal(usage.InputTokenCount, (long)tokens.Single(m => (string?)m.Tags[T.TokenTypeKey] == "input").Value);
        Assert.Equal(usage.OutputTokenCount, (long)tokens.Single(m => (string?)m.Tags[T.TokenTypeKey] == "output").Value);
    }

    [Fact]
    public async Task Acceptance_lengths_rounds_and_step_tokens_agree_with_the_EAGLE_counters()
    {
        using var recorder = new InstrumentRecorder(Telemetry.Meter);
        using var client = new EagleChatClient(fixture.Engine);

        var response = await client.GetResponseAsync(CapitalQuestion);

        Assert.Equal(CapitalAnswer, response.Text);
        var usage = response.Usage!;
        var counts = usage.AdditionalCounts!;
        var lengths = recorder.Values(T.AcceptanceLengthName);
        Assert.Equal(counts[EagleUsageKeys.DecodingRounds], lengths.Count);
        Assert.Equal(usage.OutputTokenCount - 1, (long)lengths.Sum());            // τ's numerator: every token after the first
        Assert.Equal(counts[EagleUsageKeys.MeanAcceptanceLengthX1000], (long)Math.Round(lengths.Average() * 1000));
        Assert.Contains(lengths, l => l > 1);                                   // the trained head is accepted
        Assert.Equal(counts[EagleUsageKeys.DecodingRounds], (long)recorder.Values(T.RoundsName).Sum());
        Assert.Equal(counts[EagleUsageKeys.AcceptedDraftTokens], (long)recorder.Values(T.AcceptedDraftTokensName).Sum());
        Assert.Equal(usage.InputTokenCount - (usage.CachedInputTokenCount ?? 0), (long)recorder.Values(T.PrefillTokensName).Sum());
        long plainRounds = counts[EagleUsageKeys.DecodingRounds] - counts[EagleUsageKeys.DraftedRounds];
        Assert.Equal(counts[EagleUsageKeys.VerifiedTreeTokens] + plainRounds, (long)recorder.Values(T.VerifyTokensName).Sum());
    }

    [Fact]
    public async Task The_gauges_count_a_running_request_and_return_to_zero()
    {
        using var recorder = new InstrumentRecorder(Telemetry.Meter);
        int[] prompt = [fixture.Engine.Tokenizer.BosId, .. fixture.Engine.Tokenizer.Encode("Hello")];
        IReadOnlyDictionary<string, double>? during = null;

        // Read on the generation thread while the request is in the batch.
        await fixture.Engine.GenerateAsync(prompt, new GenerationOptions { MaxNewTokens = 3, StopTokenIds = [] },
            ids => (during ??= recorder.Gauges()) is not null);
        var after = recorder.Gauges();

        Assert.Equal(1, during![T.ActiveName]);
        Assert.Equal(0, during[T.QueuedName]);
        Assert.True(during[T.KVPositionsName] >= prompt.Length + 3, $"{during[T.KVPositionsName]} KV positions held");
        Assert.Equal(0, after[T.ActiveName]);
        Assert.Equal(0, after[T.QueuedName]);
        Assert.Equal(0, after[T.KVPositionsName]);
        Assert.True(after[T.PrefixPositionsName] > 0, "the finished request's KV is kept for reuse");
        Assert.Equal(T.TextCompletion, Assert.Single(recorder.Of(T.RequestDurationName)).Tags[T.OperationNameKey]);
    }

    [Fact]
    public async Task A_request_is_a_span_under_the_callers_with_queue_prefill_and_decode_children_and_no_text()
    {
        using var caller = new ActivitySource("Eagle.AI.Tests.Caller");
        using var spans = new SpanRecorder(Telemetry.Source, caller);
        using var recorder = new InstrumentRecorder(Telemetry.Meter);
        using var client = new EagleChatClient(fixture.Engine, fixture.Factory.CreateLogger<EagleChatClient>());

        ChatResponse response;
        using (var parent = caller.StartActivity("caller"))
        {
            var pending = client.GetResponseAsync(CapitalQuestion);
            Assert.Same(parent, Activity.Current);                                  // the engine's span does not become the caller's
            response = await pending;
        }

        var all = spans.Stopped.Where(s => s.Source == Telemetry.Source).ToList();
        var request = Assert.Single(all, s => s.DisplayName == $"chat {TinyChatModel.ModelId}");
        Assert.Equal("caller", request.Parent?.OperationName);
        Assert.Equal(ActivityKind.Internal, request.Kind);
        var phases = all.Where(s => s != request).OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal([T.QueueSpan, T.PrefillSpan, T.DecodeSpan], phases.Select(p => p.OperationName));
        Assert.All(phases, p => Assert.Equal(request.SpanId, p.ParentSpanId));
        Assert.All(all, s => Assert.Equal(TinyChatModel.ModelId, s.GetTagItem(T.RequestModelKey)));
        Assert.All(all, s => Assert.Equal(EagleTelemetry.ProviderName, s.GetTagItem(T.ProviderNameKey)));
        for (int i = 1; i < phases.Count; i++) Assert.True(phases[i - 1].StartTimeUtc + phases[i - 1].Duration <= phases[i].StartTimeUtc + TimeSpan.FromTicks(1));
        Assert.Equal((int)response.Usage!.InputTokenCount!, request.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal((int)response.Usage.OutputTokenCount!, request.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(["stop"], (string[])request.GetTagItem("gen_ai.response.finish_reasons")!);
        Assert.Empty(request.Events);

        AssertNoText(spans.Texts.Concat(recorder.TagTexts).Concat(fixture.Logs.Entries.Select(e => e.Message)));
    }

    [Fact]
    public async Task Content_goes_on_the_request_spans_events_only_when_asked_for()
    {
        var options = TinyChatModel.Options();
        options.RecordContent = true;
        using var engine = new EagleEngine(options);
        using var spans = new SpanRecorder(engine.Telemetry.Source);
        using var recorder = new InstrumentRecorder(engine.Telemetry.Meter);
        using var client = new EagleChatClient(engine);

        await client.GetResponseAsync(CapitalQuestion);

        var request = Assert.Single(spans.Stopped, s => s.DisplayName.StartsWith("chat ", StringComparison.Ordinal));
        Assert.Equal(["gen_ai.content.prompt", "gen_ai.content.completion"], request.Events.Select(e => e.Name));
        Assert.Contains(CapitalQuestion, (string)request.Events.First().Tags.Single(t => t.Key == "gen_ai.prompt").Value!, StringComparison.Ordinal);
        Assert.Contains(CapitalAnswer, (string)request.Events.Last().Tags.Single(t => t.Key == "gen_ai.completion").Value!, StringComparison.Ordinal);
        // Only the events: attributes and metrics stay free of text.
        AssertNoText(spans.Stopped.SelectMany(s => s.TagObjects).Select(t => t.Value?.ToString() ?? "").Concat(recorder.TagTexts));
    }

    [Fact]
    public async Task A_cancelled_request_records_its_duration_with_the_error_type_and_ends_its_spans_as_errors()
    {
        using var spans = new SpanRecorder(Telemetry.Source);
        using var recorder = new InstrumentRecorder(Telemetry.Meter);
        using var cancel = new CancellationTokenSource();
        int[] prompt = [fixture.Engine.Tokenizer.BosId, .. fixture.Engine.Tokenizer.Encode("Hello")];

        // Cancelled at its first token, on the generation thread: the engine sees it before the next step.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Engine.GenerateAsync(prompt,
            new GenerationOptions { MaxNewTokens = 50, StopTokenIds = [] }, ids => { cancel.Cancel(); return true; }, cancel.Token));

        var duration = Assert.Single(recorder.Of(T.RequestDurationName));
        Assert.Equal(typeof(OperationCanceledException).FullName, duration.Tags[T.ErrorTypeKey]);
        Assert.Empty(recorder.Of(T.TokenUsageName));
        var request = Assert.Single(spans.Stopped, s => s.DisplayName.StartsWith(T.TextCompletion, StringComparison.Ordinal));
        Assert.Equal(ActivityStatusCode.Error, request.Status);
        Assert.Equal(ActivityStatusCode.Error, Assert.Single(spans.Stopped, s => s.OperationName == T.DecodeSpan).Status);
        Assert.Equal(0, recorder.Gauges()[T.ActiveName]);
    }

    [Fact]
    public async Task The_warm_up_request_is_not_counted()
    {
        // Listening before the engine exists: its meter is told apart by a model id of this test's own.
        string modelId = "warm-up-" + Guid.NewGuid().ToString("N");
        using var recorder = new InstrumentRecorder(m => m.Name == EagleTelemetry.MeterName);
        var options = TinyChatModel.Options();
        options.ModelId = modelId;
        options.Warmup = true;
        using var engine = new EagleEngine(options);
        bool Ours(InstrumentRecorder.Measurement m) => Equals(m.Tags.GetValueOrDefault(T.RequestModelKey), modelId);
        string[] perRequest = [T.RequestDurationName, T.TokenUsageName, T.AcceptanceLengthName, T.RoundsName, T.PrefillTokensName, T.VerifyTokensName];

        Assert.All(perRequest, name => Assert.DoesNotContain(recorder.Of(name), Ours));
        using var client = new EagleChatClient(engine);
        await client.GetResponseAsync(GreetingQuestion);
        Assert.Single(recorder.Of(T.RequestDurationName), Ours);
        Assert.Single(recorder.Of(T.PrefillTokensName), Ours);
    }

    private static void AssertNoText(IEnumerable<string> texts)
    {
        // Words of the prompt and of the answer that no attribute, metric tag or log line has any business holding.
        string[] words = ["capital", "France", "Paris"];
        foreach (string text in texts)
            foreach (string word in words)
                Assert.False(text.Contains(word, StringComparison.OrdinalIgnoreCase), $"'{word}' leaked into '{text}'");
    }
}
