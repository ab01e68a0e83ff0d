using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using Eagle.AI.Engine.Text;

namespace Eagle.AI;

/// <summary>
/// One engine's <see cref="Meter"/> and <see cref="ActivitySource"/> (both named <see cref="EagleTelemetry.MeterName"/>),
/// its instruments, and the serving state its gauges read. One per engine, disposed with it, so that a listener can tell
/// engines apart (tests do) and a disposed engine stops reporting. Every recording checks its instrument's
/// <c>Enabled</c> first: with nobody listening, the serving loop computes nothing for it.
/// </summary>
internal sealed class EngineTelemetry : IDisposable
{
    // OpenTelemetry GenAI semantic conventions (metric and attribute names, units, bucket advice).
    public const string RequestDurationName = "gen_ai.server.request.duration";
    public const string TimeToFirstTokenName = "gen_ai.server.time_to_first_token";
    public const string TimePerOutputTokenName = "gen_ai.server.time_per_output_token";
    public const string TokenUsageName = "gen_ai.client.token.usage";
    public const string OperationNameKey = "gen_ai.operation.name";
    public const string ProviderNameKey = "gen_ai.provider.name";
    public const string RequestModelKey = "gen_ai.request.model";
    public const string ResponseModelKey = "gen_ai.response.model";
    public const string TokenTypeKey = "gen_ai.token.type";
    public const string ErrorTypeKey = "error.type";
    public const string Chat = "chat", TextCompletion = "text_completion";

    // The engine's own.
    public const string AcceptanceLengthName = "eagle.decode.acceptance_length";
    public const string RoundsName = "eagle.decode.rounds";
    public const string AcceptedDraftTokensName = "eagle.decode.accepted_draft_tokens";
    public const string PrefillTokensName = "eagle.step.prefill_tokens";
    public const string VerifyTokensName = "eagle.step.verify_tokens";
    public const string QueuedName = "eagle.requests.queued";
    public const string ActiveName = "eagle.requests.active";
    public const string KVPositionsName = "eagle.kv_cache.positions";
    public const string PrefixPositionsName = "eagle.prefix_cache.positions";
    public const string ReusedTokensName = "eagle.prefix_cache.reused_tokens";

    public const string QueueSpan = "eagle.queue", PrefillSpan = "eagle.prefill", DecodeSpan = "eagle.decode";

    private static readonly string? Version = typeof(EngineTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    private readonly Histogram<double> requestDuration, timeToFirstToken, timePerOutputToken;
    private readonly Histogram<long> tokenUsage;
    private readonly Histogram<int> acceptanceLength, prefillTokens, verifyTokens;
    private readonly Counter<long> rounds, acceptedDraftTokens, reusedTokens;
    private readonly ObservableGauge<int> kvPositions, prefixPositions;
    private int queued, active, positions, retained;                 // written by the engine, read by the gauges

    public EngineTelemetry(string modelId, bool recordContent, Llama3Tokenizer tokenizer)
    {
        ModelId = modelId;
        RecordContent = recordContent;
        Tokenizer = tokenizer;
        Model = new(RequestModelKey, modelId);
        ResponseModel = new(ResponseModelKey, modelId);
        Meter = new Meter(EagleTelemetry.MeterName, Version);
        Source = new ActivitySource(EagleTelemetry.ActivitySourceName, Version);

        // Bucket boundaries as the conventions advise (exporters that honour advice use them; others keep their defaults).
        requestDuration = Meter.CreateHistogram(RequestDurationName, "s",
            "Generative AI server request duration such as time-to-last byte or last output token.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });
        timeToFirstToken = Meter.CreateHistogram(TimeToFirstTokenName, "s",
            "Time to generate first token for successful responses.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0] });
        timePerOutputToken = Meter.CreateHistogram(TimePerOutputTokenName, "s",
            "Time per output token generated after the first token for successful responses.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5] });
        tokenUsage = Meter.CreateHistogram(TokenUsageName, "{token}", "Number of input and output tokens used.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] });

        acceptanceLength = Meter.CreateHistogram(AcceptanceLengthName, "{token}",
            "Tokens one decoding round yields: the accepted draft tokens plus the target's own (1 for plain decoding); the mean is tau.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16] });
        rounds = Meter.CreateCounter<long>(RoundsName, "{round}", "Decoding rounds after prefill (one target verification forward each).");
        acceptedDraftTokens = Meter.CreateCounter<long>(AcceptedDraftTokensName, "{token}", "Draft tokens the target accepted.");
        prefillTokens = Meter.CreateHistogram(PrefillTokensName, "{token}", "Prompt tokens prefilled in one scheduler step (steps that prefill).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384] });
        verifyTokens = Meter.CreateHistogram(VerifyTokensName, "{token}",
            "Tokens the target verified in one scheduler step for the decoding requests (one per plain round, the draft tree per drafted round).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] });
        reusedTokens = Meter.CreateCounter<long>(ReusedTokensName, "{token}", "Prompt tokens whose KV came from the prefix cache instead of a prefill.");
        // The gauges carry the model too, so that two engines in one app (keyed registrations) stay apart.
        KeyValuePair<string, object?>[] model = [Model];
        Meter.CreateObservableGauge(QueuedName, () => new Measurement<int>(Volatile.Read(ref queued), model), "{request}",
            "Requests waiting for a place in the batch.");
        Meter.CreateObservableGauge(ActiveName, () => new Measurement<int>(Volatile.Read(ref active), model), "{request}",
            "Requests being decoded.");
        kvPositions = Meter.CreateObservableGauge(KVPositionsName, () => new Measurement<int>(Volatile.Read(ref positions), model), "{position}",
            "KV cache positions the running requests hold (each reserves prompt + answer budget).");
        prefixPositions = Meter.CreateObservableGauge(PrefixPositionsName, () => new Measurement<int>(Volatile.Read(ref retained), model), "{position}",
            "KV positions of finished requests kept in the prefix cache for reuse.");
    }

    public Meter Meter { get; }

    public ActivitySource Source { get; }

    public string ModelId { get; }

    public bool RecordContent { get; }

    public Llama3Tokenizer Tokenizer { get; }

    public KeyValuePair<string, object?> Model { get; }

    public KeyValuePair<string, object?> ResponseModel { get; }

    /// <summary>Whether anything listens to the per-step instruments (then the loop reads the sessions' counters around each step).</summary>
    public bool StepsObserved => acceptanceLength.Enabled || rounds.Enabled || acceptedDraftTokens.Enabled || prefillTokens.Enabled || verifyTokens.Enabled;

    /// <summary>Whether anything listens to the KV gauges (then the loop sums the sessions' positions).</summary>
    public bool PositionsObserved => kvPositions.Enabled || prefixPositions.Enabled;

    public void Enqueued() => Interlocked.Increment(ref queued);

    public void Dequeued() => Interlocked.Decrement(ref queued);

    /// <summary>A request joined the batch holding <paramref name="kvPositions"/> positions (generation thread).</summary>
    public void Joined(int kvPositions)
    {
        Interlocked.Increment(ref active);
        Interlocked.Add(ref positions, kvPositions);
    }

    /// <summary>A request left the batch (generation thread).</summary>
    public void Left(int kvPositions)
    {
        Interlocked.Decrement(ref active);
        Interlocked.Add(ref positions, -kvPositions);
    }

    /// <summary>The prefix cache holds <paramref name="retainedPositions"/> positions now (generation thread).</summary>
    public void Retained(int retainedPositions) => Volatile.Write(ref retained, retainedPositions);

    /// <summary>What one session did in one step: a prefill chunk, or a round yielding <paramref name="tokens"/>.</summary>
    public void Round(int tokens, int accepted)
    {
        if (acceptanceLength.Enabled) acceptanceLength.Record(tokens, Model);
        if (rounds.Enabled) rounds.Add(1, Model);
        if (accepted > 0 && acceptedDraftTokens.Enabled) acceptedDraftTokens.Add(accepted, Model);
    }

    /// <summary>What one scheduler step fed the target, over all its sessions.</summary>
    public void Step(int prefilled, int verified)
    {
        if (prefilled > 0 && prefillTokens.Enabled) prefillTokens.Record(prefilled, Model);
        if (verified > 0 && verifyTokens.Enabled) verifyTokens.Record(verified, Model);
    }

    /// <summary>Records a request that ended; <paramref name="errorType"/> is null for a success.</summary>
    public void Ended(string operation, double seconds, double? firstTokenSeconds, Engine.Decoding.GenerationStats? stats, string? errorType)
    {
        var tags = new TagList
        {
            { OperationNameKey, operation },
            { ProviderNameKey, EagleTelemetry.ProviderName },
            Model,
        };
        if (errorType is not null)
        {
            tags.Add(ErrorTypeKey, errorType);
            if (requestDuration.Enabled) requestDuration.Record(seconds, tags);
            return;
        }
        tags.Add(ResponseModel);
        if (requestDuration.Enabled) requestDuration.Record(seconds, tags);
        if (firstTokenSeconds is { } ttft)
        {
            if (timeToFirstToken.Enabled) timeToFirstToken.Record(ttft, tags);
            if (stats is { GeneratedTokens: > 1 } && timePerOutputToken.Enabled)
                timePerOutputToken.Record((seconds - ttft) / (stats.GeneratedTokens - 1), tags);
        }
        if (stats is null) return;
        if (tokenUsage.Enabled)
        {
            var input = tags;
            input.Add(TokenTypeKey, "input");
            tokenUsage.Record(stats.PromptTokens, input);
            tags.Add(TokenTypeKey, "output");
            tokenUsage.Record(stats.GeneratedTokens, tags);
        }
        if (stats.CachedPromptTokens > 0 && reusedTokens.Enabled) reusedTokens.Add(stats.CachedPromptTokens, Model);
    }

    /// <summary>
    /// Starts a span without making it <see cref="Activity.Current"/>: the request span starts on the caller's thread
    /// inside a synchronous call (it would otherwise leak into the caller's async flow), the phases on the generation
    /// thread, which serves many requests at once.
    /// </summary>
    public Activity? StartSpan(string name, ActivityKind kind, ActivityContext parent, in TagList tags)
    {
        var previous = Activity.Current;
        var span = Source.StartActivity(name, kind, parent, tags);
        Activity.Current = previous;
        return span;
    }

    /// <summary>Stops <paramref name="span"/>, leaving <see cref="Activity.Current"/> as it was.</summary>
    public static void StopSpan(Activity? span)
    {
        if (span is null) return;
        var previous = Activity.Current;
        span.Stop();
        Activity.Current = previous;
    }

    public void Dispose()
    {
        Meter.Dispose();
        Source.Dispose();
    }
}
