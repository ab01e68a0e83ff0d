using Eagle.Samples.WebApi.Mapping;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// The token a request's generation runs under, and why it fired: the client went away, the request ran past
/// <see cref="ServerOptions.RequestTimeoutSeconds"/>, or the server is shutting down (SIGTERM). The engine stops the
/// generation within one step of it; writing to the client still uses the connection's own token.
/// </summary>
internal sealed class RequestCancellation : IDisposable
{
    private readonly CancellationTokenSource source;
    private readonly CancellationToken aborted, stopping;
    private readonly double timeoutSeconds;

    public RequestCancellation(HttpContext context, double timeoutSeconds, CancellationToken stopping)
    {
        aborted = context.RequestAborted;
        this.stopping = stopping;
        this.timeoutSeconds = timeoutSeconds;
        source = CancellationTokenSource.CreateLinkedTokenSource(aborted, stopping);
        if (timeoutSeconds > 0) source.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
    }

    public CancellationToken Token => source.Token;

    /// <summary>Whether <paramref name="exception"/> is this token's cancellation (and not some other failure).</summary>
    public bool Cancelled(Exception exception) => exception is OperationCanceledException && source.IsCancellationRequested;

    /// <summary>Whether the client is gone, so that nothing more can be written to it.</summary>
    public bool ClientGone => aborted.IsCancellationRequested;

    /// <summary>For the log: why the request was cancelled.</summary>
    public string Reason => ClientGone ? "the client went away"
        : stopping.IsCancellationRequested ? "the server is shutting down"
        : $"it ran past the {timeoutSeconds:0.###} s limit (Server:RequestTimeoutSeconds)";

    /// <summary>What to tell a client that is still there.</summary>
    public RequestError ToError() => stopping.IsCancellationRequested
        ? new RequestError(StatusCodes.Status503ServiceUnavailable,
            "The server is shutting down; the answer was cut off. Retry the request.", null, "server_shutting_down")
        : new RequestError(StatusCodes.Status504GatewayTimeout,
            $"The request took longer than this server allows ({timeoutSeconds:0.###} s, Server:RequestTimeoutSeconds) and was cancelled.", null, "timeout");

    public void Dispose() => source.Dispose();
}
