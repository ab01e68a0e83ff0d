using System.Collections.Concurrent;
using System.Diagnostics;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace Eagle.AI;

/// <summary>
/// One loaded model (target, optional EAGLE draft head, tokenizer) and the single thread that runs it, serving many
/// requests at once by continuous batching: requests from any thread queue first come, first served; up to
/// <see cref="EagleOptions.MaxBatchSize"/> of them are decoded together, every step one forward for all (a vanilla
/// token or a speculative round each); a request joins between steps and leaves the moment it ends. One thread,
/// because TorchSharp's dispose scopes and no-grad mode are per-thread. Every request allocates its own caches and
/// frees them when it ends, however it ends, so requests never share state and each one's output is the output it
/// would have alone. Beyond <see cref="EagleOptions.MaxQueuedRequests"/> waiting, a request fails at once with
/// <see cref="EngineBusyException"/>. Safe for concurrent use; <see cref="EagleChatClient"/> is its <c>IChatClient</c> face.
/// </summary>
public sealed class EagleEngine : IDisposable
{
    private readonly BlockingCollection<GenerationWork> queue = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly IRequestDecoder decoder;
    private readonly LoadedModel? model;
    private readonly ILogger logger;
    private readonly Thread thread;
    private readonly int maxBatchSize, maxQueuedRequests;
    private readonly EngineTelemetry telemetry;
    private readonly List<DecodingProgress> beforeStep = [];   // the sessions' counters before a step, when observed
    private int pending;                    // admitted and not yet completed: queued + running
    private double recentRequestSeconds = 1; // a running mean of request durations, for Retry-After
    private int disposed;

    /// <summary>Validates <paramref name="options"/>, loads the model reporting every tensor to <paramref name="progress"/>, and starts the generation thread.</summary>
    /// <param name="options">Where the model is and how to run it.</param>
    /// <param name="loggerFactory">Receives loading progress and per-request diagnostics.</param>
    /// <param name="progress">Receives each loaded tensor (e.g. for a progress bar); called on the loading thread.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is invalid; the message names it.</exception>
    /// <exception cref="TorchRuntimeException">The native runtime cannot load, or CUDA was asked for and is not available (the message says how to get it).</exception>
    /// <exception cref="Engine.Checkpoints.CheckpointException">A model file is missing or malformed.</exception>
    public EagleEngine(EagleOptions options, ILoggerFactory? loggerFactory = null, IProgress<ModelLoadProgress>? progress = null)
        : this(LoadValidated(options, Logger(loggerFactory), progress), Logger(loggerFactory), options.MaxBatchSize, options.MaxQueuedRequests,
            options.RecordContent)
    {
        if (!options.Warmup) return;
        try
        {
            WarmUp();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private EagleEngine(LoadedModel model, ILogger logger, int maxBatchSize, int maxQueuedRequests, bool recordContent)
        : this(model.Tokenizer, model, model.Info, logger, maxBatchSize, maxQueuedRequests, recordContent) => this.model = model;

    /// <summary>An engine over any decoder (tests script one); starts the generation thread.</summary>
    internal EagleEngine(Llama3Tokenizer tokenizer, IRequestDecoder decoder, EngineInfo info, ILogger? logger = null,
        int maxBatchSize = 8, int maxQueuedRequests = 64, bool recordContent = false)
    {
        Tokenizer = tokenizer;
        telemetry = new EngineTelemetry(info.ModelId, recordContent, tokenizer);
        Info = info;
        this.decoder = decoder;
        this.logger = logger ?? NullLogger.Instance;
        this.maxBatchSize = maxBatchSize;
        this.maxQueuedRequests = maxQueuedRequests;
        thread = new Thread(Run) { IsBackground = true, Name = $"eagle-generation ({info.ModelId})" };
        thread.Start();
    }

    /// <summary>The model id reported in responses (<see cref="EagleOptions.ModelId"/> or the model folder's name).</summary>
    public string ModelId => Info.ModelId;

    /// <summary>The model folder, absolute.</summary>
    public string ModelPath => Info.ModelPath;

    /// <summary>The model's tokenizer.</summary>
    public Llama3Tokenizer Tokenizer { get; }

    /// <summary>The chat template the model expects (detected from its folder).</summary>
    public ChatFormatVersion ChatFormat => Info.ChatFormat;

    /// <summary>Where the weights live, as <see cref="EagleOptions.Device"/> spells it (e.g. <c>cpu</c>, <c>cuda:0</c>).</summary>
    public string Device => Info.Device.ToString();

    /// <summary>The weights' dtype, as <see cref="EagleOptions.DType"/> spells it (e.g. <c>bfloat16</c>).</summary>
    public string DType => TorchRuntime.Name(Info.DType);

    /// <summary>Most positions (prompt + answer) one request may use.</summary>
    public int MaxContextTokens => Info.MaxContextTokens;

    /// <summary>Whether an EAGLE draft head is loaded.</summary>
    public bool HasDraftModel => Info.HasDraftModel;

    internal EngineInfo Info { get; }

    /// <summary>What decodes the requests (the loaded model, or a test's script).</summary>
    internal IRequestDecoder Decoder => decoder;

    /// <summary>This engine's meter, activity source and instruments (see <see cref="EagleTelemetry"/>).</summary>
    internal EngineTelemetry Telemetry => telemetry;

    /// <summary>
    /// Queues a request for the generation thread, where it is decoded together with the other active requests.
    /// <paramref name="onTokens"/> runs on that thread with each decoding step's tokens (prefill's token first; a round
    /// of speculative decoding gives several); keep it short — every active request waits for it — and return false to
    /// end the request there (it then completes with <see cref="FinishReason.Stop"/> and the tokens so far). If it
    /// throws, the request fails with that exception and the others go on.
    /// </summary>
    /// <param name="promptIds">The prompt's ids, used as given (no BOS added).</param>
    /// <param name="options">Budget, sampling, stop ids (null stop ids = the model's <c>eos_token_id</c>).</param>
    /// <param name="onTokens">Sees the tokens as they are accepted.</param>
    /// <param name="cancellationToken">Stops the request within one decoding round; its task is then cancelled.</param>
    /// <returns>The generated ids, why generation ended, and its statistics.</returns>
    /// <exception cref="ArgumentException">The prompt is empty or does not leave room for one new token in <see cref="MaxContextTokens"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The engine is disposed (also the task's fault when disposal ends the request).</exception>
    /// <exception cref="EngineBusyException"><see cref="EagleOptions.MaxBatchSize"/> requests run and <see cref="EagleOptions.MaxQueuedRequests"/> wait already.</exception>
    public Task<GenerationResult> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options,
        Func<IReadOnlyList<int>, bool>? onTokens = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (promptIds.Count == 0) throw new ArgumentException("The prompt is empty.", nameof(promptIds));
        Info.ThrowIfPromptTooLong(promptIds.Count, nameof(promptIds));
        return GenerateAsync(new EngineRequest(promptIds, options, Info.SpeculativeByDefault), onTokens, cancellationToken,
            EngineTelemetry.TextCompletion);
    }

    /// <summary>Queues <paramref name="request"/>, whose options and prompt were checked where they entered (above, or <see cref="ChatMapper.Prepare"/>).</summary>
    /// <param name="request">The request.</param>
    /// <param name="onTokens">Sees the tokens as they are accepted.</param>
    /// <param name="cancellationToken">Stops the request.</param>
    /// <param name="operation">The <c>gen_ai.operation.name</c> its metrics and spans carry; null = the engine's own warm-up, not recorded.</param>
    internal Task<GenerationResult> GenerateAsync(EngineRequest request, Func<IReadOnlyList<int>, bool>? onTokens, CancellationToken cancellationToken,
        string? operation = EngineTelemetry.Chat)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        Debug.Assert(request.PromptIds.Count is > 0 && request.PromptIds.Count < MaxContextTokens);
        if (Interlocked.Increment(ref pending) > maxBatchSize + maxQueuedRequests)
        {
            Interlocked.Decrement(ref pending);
            var retryAfter = TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(Volatile.Read(ref recentRequestSeconds)), 1, 60));
            throw new EngineBusyException(maxBatchSize, maxQueuedRequests, retryAfter);
        }
        var work = new GenerationWork(request, new RequestTrace(telemetry, request, operation ?? EngineTelemetry.TextCompletion, operation is not null),
            onTokens, cancellationToken);
        work.Completion.Task.ContinueWith(static (_, e) => Interlocked.Decrement(ref ((EagleEngine)e!).pending), this,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        telemetry.Enqueued();                                                       // before Add: the taker's Dequeued never precedes it
        try
        {
            queue.Add(work, CancellationToken.None);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            telemetry.Dequeued();
            work.Fail(new ObjectDisposedException(nameof(EagleEngine)));
            work.Dispose();
            throw new ObjectDisposedException(nameof(EagleEngine));
        }
        return work.Completion.Task;
    }

    // The scheduler: admit between steps (blocking only when idle), drop what was cancelled, step every active
    // session through one forward, complete what finished.
    private void Run()
    {
        var active = new List<Running>();
        try
        {
            while (true)
            {
                if (active.Count == 0)
                {
                    if (!queue.TryTake(out var first, Timeout.Infinite)) break;       // disposed and drained
                    Admit(first, active);
                }
                while (active.Count < maxBatchSize && queue.TryTake(out var next)) Admit(next, active);
                Leave(active);
                if (active.Count == 0) continue;
                bool observed = telemetry.StepsObserved;
                if (observed) BeforeStep(active);
                try
                {
                    // Catches any tensor a step would otherwise leave behind.
                    using var scope = NewDisposeScope();
                    decoder.Step([.. active.Select(a => a.Session)]);
                }
                catch (Exception e)
                {
                    // A step is shared: its failure fails every request in it (out of device memory in the batched
                    // forward does not: those requests are run again alone, and only one that does not fit by itself fails).
                    foreach (var a in active) End(a, w => w.Fail(e));
                    active.Clear();
                    continue;
                }
                if (observed) AfterStep(active);
                Finish(active);
            }
        }
        finally
        {
            foreach (var a in active)
                End(a, w => w.Fail(new ObjectDisposedException(nameof(EagleEngine), "The engine was disposed while this request ran.")));
            // The weights are freed by the thread that used them, after its last request.
            model?.Dispose();
            telemetry.Dispose();
        }
    }

    private void Admit(GenerationWork work, List<Running> active)
    {
        telemetry.Dequeued();
        if (stopping.IsCancellationRequested)
        {
            work.Fail(new ObjectDisposedException(nameof(EagleEngine), "The engine was disposed before this request ran."));
            work.Dispose();
            return;
        }
        if (!work.TryStart())
        {
            work.Dispose();                                                         // cancelled while queued: already completed
            return;
        }
        work.Trace.Admitted();
        try
        {
            var session = decoder.Start(work.Request, ids => Deliver(work, ids));
            active.Add(new Running(work, session, session.Progress.Capacity));
            telemetry.Joined(session.Progress.Capacity);
        }
        catch (Exception e)
        {
            work.Fail(e);                                                           // e.g. its caches do not fit: it fails alone
            work.Dispose();
        }
        // Starting may have taken or cleared retained sequences.
        if (telemetry.PositionsObserved) telemetry.Retained(decoder.RetainedPositions);
    }

    // Hands a step's tokens to the consumer; its exception fails its own request, not the step.
    private static bool Deliver(GenerationWork work, IReadOnlyList<int> ids)
    {
        if (work.Error is not null) return false;
        work.Trace.Delivered();
        try
        {
            return work.OnTokens?.Invoke(ids) ?? true;
        }
        catch (Exception e)
        {
            work.Error = e;
            return false;
        }
    }

    // Requests cancelled by their caller, or all of them when the engine stops, leave before the next step.
    private void Leave(List<Running> active)
    {
        active.RemoveAll(a =>
        {
            if (stopping.IsCancellationRequested)
                End(a, w => w.Fail(new ObjectDisposedException(nameof(EagleEngine), "The engine was disposed while this request ran.")));
            else if (a.Work.CancellationToken.IsCancellationRequested)
                End(a, w => w.Cancel());
            else
                return false;
            return true;
        });
    }

    private void Finish(List<Running> active)
    {
        active.RemoveAll(a =>
        {
            if ((a.Work.Error ?? a.Session.Failure) is { } error)
            {
                End(a, w => w.Fail(error));
                return true;
            }
            if (!a.Session.Done) return false;
            var result = a.Session.Result;
            Log.RequestDone(logger, result.Stats.PromptTokens, result.Stats.GeneratedTokens, result.Stats.TargetForwards,
                result.Stats.MeanAcceptanceLength, result.FinishReason.ToString());
            double seconds = (result.Stats.PrefillMs + result.Stats.DecodeMs) / 1000;
            Volatile.Write(ref recentRequestSeconds, 0.8 * Volatile.Read(ref recentRequestSeconds) + 0.2 * seconds);
            End(a, w => w.Succeed(result));
            return true;
        });
    }

    // An admitted request, its session and the KV positions it holds.
    private sealed record Running(GenerationWork Work, IRequestSession Session, int Positions);

    // Frees a request's session and completes it; the gauges and its metrics are updated first, so a caller that
    // awaited the request finds them current.
    private void End(Running a, Action<GenerationWork> complete)
    {
        try
        {
            a.Session.Dispose();
        }
        finally
        {
            telemetry.Left(a.Positions);
            if (telemetry.PositionsObserved) telemetry.Retained(decoder.RetainedPositions);
            complete(a.Work);
            a.Work.Dispose();
        }
    }

    // The sessions' counters before a step (only while someone listens to the per-step instruments).
    private void BeforeStep(List<Running> active)
    {
        beforeStep.Clear();
        foreach (var a in active) beforeStep.Add(a.Session.Progress);
    }

    // What the step did: per session a prefill chunk or one decoding round (its tokens are the round's acceptance
    // length), and over all of them the tokens the target took. A step is at most one round of each session.
    private void AfterStep(List<Running> active)
    {
        int prefilled = 0, verified = 0;
        for (int j = 0; j < active.Count; j++)
        {
            if (!active[j].Work.Trace.Observed) continue;                           // the warm-up is not traffic
            var (then, now) = (beforeStep[j], active[j].Session.Progress);
            prefilled += now.Prefilled - then.Prefilled;
            verified += now.VerifiedTokens - then.VerifiedTokens;
            if (now.Rounds > then.Rounds) telemetry.Round(now.Generated - then.Generated, now.AcceptedDraftTokens - then.AcceptedDraftTokens);
        }
        telemetry.Step(prefilled, verified);
    }

    private void WarmUp()
    {
        var clock = Stopwatch.StartNew();
        int[] prompt = [Tokenizer.BosId, .. Tokenizer.Encode("Hello")];
        // Two tokens, so a speculative engine also drafts and verifies one tree.
        var options = new GenerationOptions { MaxNewTokens = 2, StopTokenIds = [] };
        // Not the operators' traffic: no metrics or spans for it.
        GenerateAsync(new EngineRequest(prompt, options, Info.SpeculativeByDefault), null, CancellationToken.None, operation: null).GetAwaiter().GetResult();
        Log.WarmedUp(logger, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// Stops the engine: running requests end within one decoding step, queued ones fail with
    /// <see cref="ObjectDisposedException"/>, and the weights are freed once the generation thread has finished.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        queue.CompleteAdding();
        stopping.Cancel();
        // Disposed from a token callback, the thread cannot wait for itself; it frees the weights when it unwinds.
        if (Thread.CurrentThread == thread) return;
        thread.Join();
        queue.Dispose();
        stopping.Dispose();
    }

    private static LoadedModel LoadValidated(EagleOptions options, ILogger logger, IProgress<ModelLoadProgress>? progress)
    {
        ArgumentNullException.ThrowIfNull(options);
        EagleOptionsValidator.ThrowIfInvalid(options);
        return LoadedModel.Load(options, logger, progress);
    }

    private static ILogger Logger(ILoggerFactory? factory) => factory?.CreateLogger<EagleEngine>() ?? (ILogger)NullLogger.Instance;
}
