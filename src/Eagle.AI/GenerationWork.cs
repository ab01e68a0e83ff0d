using Eagle.AI.Engine.Decoding;

namespace Eagle.AI;

/// <summary>
/// A request waiting in, or taken from, the engine's queue. Its state decides the one race that matters: a caller
/// cancelling while the request is still queued completes it at once; once the generation thread has started it,
/// the scheduler sees the cancellation before its next step and the request leaves the batch.
/// </summary>
internal sealed class GenerationWork : IDisposable
{
    private const int Queued = 0, Running = 1, Cancelled = 2;
    private int state;
    private CancellationTokenRegistration registration;

    public GenerationWork(EngineRequest request, RequestTrace trace, Func<IReadOnlyList<int>, bool>? onTokens, CancellationToken cancellationToken)
    {
        Request = request;
        Trace = trace;
        OnTokens = onTokens;
        CancellationToken = cancellationToken;
        registration = cancellationToken.Register(static w => ((GenerationWork)w!).CancelIfQueued(), this);
    }

    public EngineRequest Request { get; }

    /// <summary>The request's timing and spans; its end is recorded by the methods below, before the task completes.</summary>
    public RequestTrace Trace { get; }

    /// <summary>Called on the generation thread with each round's tokens; false asks to stop.</summary>
    public Func<IReadOnlyList<int>, bool>? OnTokens { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>What <see cref="OnTokens"/> threw, if it did: the request then fails with it.</summary>
    public Exception? Error { get; set; }

    public TaskCompletionSource<GenerationResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes the request with <paramref name="result"/>.</summary>
    public void Succeed(GenerationResult result)
    {
        Trace.Succeeded(result);
        Completion.TrySetResult(result);
    }

    /// <summary>Fails the request with <paramref name="error"/>.</summary>
    public void Fail(Exception error)
    {
        Trace.Failed(error);
        Completion.TrySetException(error);
    }

    /// <summary>Cancels the request (its caller's token fired).</summary>
    public void Cancel()
    {
        Trace.Failed(null);
        Completion.TrySetCanceled(CancellationToken);
    }

    /// <summary>Claims the request for the generation thread; false when the caller cancelled it first.</summary>
    public bool TryStart() => Interlocked.CompareExchange(ref state, Running, Queued) == Queued;

    private void CancelIfQueued()
    {
        if (Interlocked.CompareExchange(ref state, Cancelled, Queued) == Queued) Cancel();
    }

    public void Dispose() => registration.Dispose();
}
