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
/// One loaded model (target, optional EAGLE draft head, tokenizer) and the single thread that runs it. Requests from any
/// thread queue first-in first-out onto that thread, because TorchSharp's dispose scopes and no-grad mode are
/// per-thread, and because one request at a time is what one accelerator does best for a single user. Every request
/// allocates its own KV cache and frees it when it ends, however it ends, so requests never share state. Safe for
/// concurrent use; <see cref="EagleChatClient"/> is its <c>IChatClient</c> face.
/// </summary>
public sealed class EagleEngine : IDisposable
{
    private readonly BlockingCollection<GenerationWork> queue = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly TokenSource source;
    private readonly LoadedModel? model;
    private readonly ILogger logger;
    private readonly Thread thread;
    private int disposed;

    /// <summary>Validates <paramref name="options"/>, loads the model and starts the generation thread (and warms up when asked).</summary>
    /// <param name="options">Where the model is and how to run it.</param>
    /// <param name="loggerFactory">Receives loading progress and per-request diagnostics.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is invalid; the message names it.</exception>
    /// <exception cref="TorchRuntimeException">The native runtime cannot load, or CUDA was asked for and is not available (the message says how to get it).</exception>
    /// <exception cref="Engine.Checkpoints.CheckpointException">A model file is missing or malformed.</exception>
    public EagleEngine(EagleOptions options, ILoggerFactory? loggerFactory = null)
        : this(options, loggerFactory, null)
    {
    }

    /// <summary>Validates <paramref name="options"/>, loads the model reporting every tensor to <paramref name="progress"/>, and starts the generation thread.</summary>
    /// <param name="options">Where the model is and how to run it.</param>
    /// <param name="loggerFactory">Receives loading progress and per-request diagnostics.</param>
    /// <param name="progress">Receives each loaded tensor (e.g. for a progress bar); called on the loading thread.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is invalid; the message names it.</exception>
    /// <exception cref="TorchRuntimeException">The native runtime cannot load, or CUDA was asked for and is not available (the message says how to get it).</exception>
    /// <exception cref="Engine.Checkpoints.CheckpointException">A model file is missing or malformed.</exception>
    public EagleEngine(EagleOptions options, ILoggerFactory? loggerFactory, IProgress<ModelLoadProgress>? progress)
        : this(LoadValidated(options, Logger(loggerFactory), progress), Logger(loggerFactory))
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

    private EagleEngine(LoadedModel model, ILogger logger)
        : this(model.Tokenizer, model.Generate, model.Info, logger) => this.model = model;

    /// <summary>An engine over any token source (tests script one); starts the generation thread.</summary>
    internal EagleEngine(Llama3Tokenizer tokenizer, TokenSource source, EngineInfo info, ILogger? logger = null)
    {
        Tokenizer = tokenizer;
        Info = info;
        this.source = source;
        this.logger = logger ?? NullLogger.Instance;
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

    /// <summary>Where the weights live.</summary>
    public Device Device => Info.Device;

    /// <summary>The weights' dtype.</summary>
    public ScalarType DType => Info.DType;

    /// <summary>Most positions (prompt + answer) one request may use.</summary>
    public int MaxContextTokens => Info.MaxContextTokens;

    /// <summary>Whether an EAGLE draft head is loaded.</summary>
    public bool HasDraftModel => Info.HasDraftModel;

    internal EngineInfo Info { get; }

    /// <summary>
    /// Queues a request for the generation thread. <paramref name="onTokens"/> runs on that thread with each decoding
    /// round's tokens (prefill's token first; a round of speculative decoding gives several); keep it short, and return
    /// false to end the request there (it then completes with <see cref="FinishReason.Stop"/> and the tokens so far).
    /// </summary>
    /// <param name="promptIds">The prompt's ids, used as given (no BOS added).</param>
    /// <param name="options">Budget, sampling, stop ids (null stop ids = the model's <c>eos_token_id</c>).</param>
    /// <param name="onTokens">Sees the tokens as they are accepted.</param>
    /// <param name="cancellationToken">Stops the request within one decoding round; its task is then cancelled.</param>
    /// <returns>The generated ids, why generation ended, and its statistics.</returns>
    /// <exception cref="ArgumentException">The prompt is empty or does not leave room for one new token in <see cref="MaxContextTokens"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The engine is disposed (also the task's fault when disposal ends the request).</exception>
    public Task<GenerationResult> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options,
        Func<IReadOnlyList<int>, bool>? onTokens = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(options);
        return GenerateAsync(new EngineRequest(promptIds, options, Info.SpeculativeByDefault), onTokens, cancellationToken);
    }

    internal Task<GenerationResult> GenerateAsync(EngineRequest request, Func<IReadOnlyList<int>, bool>? onTokens, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        request.Options.Validate();
        int n = request.PromptIds.Count;
        if (n == 0) throw new ArgumentException("The prompt is empty.", "promptIds");
        if (n >= MaxContextTokens)
            throw new ArgumentException(
                $"The prompt has {n} tokens; the context limit is {MaxContextTokens} (EagleOptions.MaxContextTokens, capped by the model's " +
                "max_position_embeddings), and the prompt and at least one new token must fit.", "promptIds");
        var work = new GenerationWork(request, onTokens, cancellationToken);
        try
        {
            queue.Add(work, CancellationToken.None);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            work.Dispose();
            throw new ObjectDisposedException(nameof(EagleEngine));
        }
        return work.Completion.Task;
    }

    private void Run()
    {
        foreach (var work in queue.GetConsumingEnumerable())
        {
            using (work)
            {
                if (stopping.IsCancellationRequested)
                    work.Completion.TrySetException(new ObjectDisposedException(nameof(EagleEngine), "The engine was disposed before this request ran."));
                else if (work.TryStart())
                    Execute(work);
            }
        }
        // The weights are freed by the thread that used them, after its last request.
        model?.Dispose();
    }

    private void Execute(GenerationWork work)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(work.CancellationToken, stopping.Token);
        var tally = new TokenTally(work.Request.PromptIds.Count);
        bool stopAsked = false;
        void OnTokens(IReadOnlyList<int> ids)
        {
            tally.Add(ids);
            if (work.OnTokens?.Invoke(ids) == false && !stopAsked)
            {
                stopAsked = true;
                cancel.Cancel();   // the generator throws before its next round
            }
        }
        try
        {
            // Catches any tensor a request would otherwise leave behind.
            using var scope = NewDisposeScope();
            var result = source(work.Request, OnTokens, cancel.Token);
            Log.RequestDone(logger, result.Stats.PromptTokens, result.Stats.GeneratedTokens, result.Stats.TargetForwards,
                result.Stats.MeanAcceptanceLength, result.FinishReason.ToString());
            work.Completion.TrySetResult(result);
        }
        catch (OperationCanceledException) when (work.CancellationToken.IsCancellationRequested)
        {
            work.Completion.TrySetCanceled(work.CancellationToken);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            work.Completion.TrySetException(new ObjectDisposedException(nameof(EagleEngine), "The engine was disposed while this request ran."));
        }
        catch (OperationCanceledException) when (stopAsked)
        {
            work.Completion.TrySetResult(tally.Stopped());
        }
        catch (Exception e)
        {
            work.Completion.TrySetException(e);
        }
    }

    private void WarmUp()
    {
        var clock = Stopwatch.StartNew();
        int[] prompt = [Tokenizer.BosId, .. Tokenizer.Encode("Hello")];
        // Two tokens, so a speculative engine also drafts and verifies one tree.
        var options = new GenerationOptions { MaxNewTokens = 2, StopTokenIds = [] };
        GenerateAsync(prompt, options).GetAwaiter().GetResult();
        Log.WarmedUp(logger, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// Stops the engine: the request running ends within one decoding round, queued ones fail with
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
