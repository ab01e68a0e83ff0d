using System.Diagnostics;
using Eagle.AI.Engine.Decoding;

namespace Eagle.AI;

/// <summary>
/// One request's timing and spans: the request span (a child of the caller's current activity) and, one after the
/// other, its <c>eagle.queue</c>, <c>eagle.prefill</c> and <c>eagle.decode</c> children. Created where the request is
/// queued; the generation thread marks admission and the first token, and the request's end is recorded exactly once,
/// before its task completes, so a caller that awaited it sees its metrics and spans already there.
/// </summary>
internal sealed class RequestTrace
{
    private readonly EngineTelemetry telemetry;
    private readonly string operation;
    private readonly long start = Stopwatch.GetTimestamp();
    private readonly bool observed;
    private readonly Activity? request;
    private Activity? phase;
    private long firstToken;
    private int ended;

    /// <param name="telemetry">The engine's instruments.</param>
    /// <param name="request">The request (its options become span attributes).</param>
    /// <param name="operation">The <c>gen_ai.operation.name</c>.</param>
    /// <param name="observed">False for the engine's own warm-up request, which is not the operators' traffic.</param>
    public RequestTrace(EngineTelemetry telemetry, EngineRequest request, string operation, bool observed = true)
    {
        this.telemetry = telemetry;
        this.operation = operation;
        this.observed = observed;
        if (!observed || !telemetry.Source.HasListeners()) return;
        var options = request.Options;
        var tags = Tags();
        tags.Add("gen_ai.request.max_tokens", options.MaxNewTokens);
        tags.Add("gen_ai.request.temperature", (double)options.Sampling.Temperature);
        if (options.Sampling.TopP < 1) tags.Add("gen_ai.request.top_p", (double)options.Sampling.TopP);
        if (options.Sampling.TopK > 0) tags.Add("gen_ai.request.top_k", (double)options.Sampling.TopK);
        if (options.Sampling.Seed is { } seed) tags.Add("gen_ai.request.seed", seed);
        this.request = telemetry.StartSpan($"{operation} {telemetry.ModelId}", ActivityKind.Internal, default, tags);
        if (this.request is null) return;
        // Tokens only (counts); the text itself only when the app asked for it, and then as an event.
        if (telemetry.RecordContent)
            this.request.AddEvent(new ActivityEvent("gen_ai.content.prompt", tags: new ActivityTagsCollection
            {
                ["gen_ai.prompt"] = telemetry.Tokenizer.Decode(request.PromptIds, includeSpecialTokens: true),
            }));
        phase = telemetry.StartSpan(EngineTelemetry.QueueSpan, ActivityKind.Internal, this.request.Context, Tags());
    }

    /// <summary>Whether the request's metrics are recorded (all but the engine's warm-up).</summary>
    public bool Observed => observed;

    /// <summary>The request span, if anyone listens.</summary>
    public Activity? Span => request;

    /// <summary>Taken from the queue into the batch (generation thread): the queue wait ends, prefill begins.</summary>
    public void Admitted()
    {
        if (request is null) return;
        EngineTelemetry.StopSpan(phase);
        phase = telemetry.StartSpan(EngineTelemetry.PrefillSpan, ActivityKind.Internal, request.Context, Tags());
    }

    /// <summary>The first tokens were handed to the consumer (generation thread): prefill ends, decoding begins.</summary>
    public void Delivered()
    {
        if (firstToken != 0) return;
        firstToken = Stopwatch.GetTimestamp();
        if (request is null) return;
        EngineTelemetry.StopSpan(phase);
        phase = telemetry.StartSpan(EngineTelemetry.DecodeSpan, ActivityKind.Internal, request.Context, Tags());
    }

    /// <summary>Records a success (once; later calls do nothing).</summary>
    public void Succeeded(GenerationResult result)
    {
        if (Interlocked.Exchange(ref ended, 1) != 0 || !observed) return;
        long now = Stopwatch.GetTimestamp();
        var stats = result.Stats;
        telemetry.Ended(operation, Seconds(start, now), firstToken == 0 ? null : Seconds(start, firstToken), stats, null);
        if (request is null) return;
        phase?.SetTag("gen_ai.usage.output_tokens", stats.GeneratedTokens);
        EngineTelemetry.StopSpan(phase);
        request.SetTag(EngineTelemetry.ResponseModelKey, telemetry.ModelId);
        request.SetTag("gen_ai.response.finish_reasons", new[] { result.FinishReason == FinishReason.Stop ? "stop" : "length" });
        request.SetTag("gen_ai.usage.input_tokens", stats.PromptTokens);
        request.SetTag("gen_ai.usage.cache_read.input_tokens", stats.CachedPromptTokens);
        request.SetTag("gen_ai.usage.output_tokens", stats.GeneratedTokens);
        request.SetTag("eagle.decode.rounds", stats.Rounds);
        request.SetTag("eagle.decode.accepted_draft_tokens", stats.AcceptedDraftTokens);
        request.SetTag("eagle.target_forward_passes", stats.TargetForwards);
        if (telemetry.RecordContent)
            request.AddEvent(new ActivityEvent("gen_ai.content.completion", tags: new ActivityTagsCollection
            {
                ["gen_ai.completion"] = telemetry.Tokenizer.Decode(result.OutputIds, includeSpecialTokens: true),
            }));
        EngineTelemetry.StopSpan(request);
    }

    /// <summary>Records a failure, or with null a cancellation (once): its duration with <c>error.type</c>, and error spans.</summary>
    public void Failed(Exception? error)
    {
        if (Interlocked.Exchange(ref ended, 1) != 0 || !observed) return;
        // The exception's type, never its message: messages may quote the request.
        string errorType = (error is null or OperationCanceledException ? typeof(OperationCanceledException) : error.GetType()).FullName!;
        telemetry.Ended(operation, Seconds(start, Stopwatch.GetTimestamp()), null, null, errorType);
        if (request is null) return;
        foreach (var span in (ReadOnlySpan<Activity?>)[phase, request])
        {
            if (span is null) continue;
            span.SetTag(EngineTelemetry.ErrorTypeKey, errorType);
            span.SetStatus(ActivityStatusCode.Error, errorType);
            EngineTelemetry.StopSpan(span);
        }
    }

    private TagList Tags() => new()
    {
        { EngineTelemetry.OperationNameKey, operation },
        { EngineTelemetry.ProviderNameKey, EagleTelemetry.ProviderName },
        telemetry.Model,
    };

    private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;
}
