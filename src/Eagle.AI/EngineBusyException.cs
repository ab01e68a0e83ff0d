namespace Eagle.AI;

/// <summary>
/// The engine already runs <see cref="EagleOptions.MaxBatchSize"/> requests and has
/// <see cref="EagleOptions.MaxQueuedRequests"/> waiting, so it refuses this one at once instead of letting it wait
/// without bound. A server answers it with 429 (Too Many Requests) and <see cref="RetryAfter"/>.
/// </summary>
public sealed class EngineBusyException : InvalidOperationException
{
    /// <summary>Creates the exception for an engine of <paramref name="maxBatchSize"/> running and <paramref name="maxQueuedRequests"/> waiting requests.</summary>
    public EngineBusyException(int maxBatchSize, int maxQueuedRequests, TimeSpan retryAfter)
        : base($"The engine is busy: {maxBatchSize} requests are running (EagleOptions.MaxBatchSize) and {maxQueuedRequests} are waiting " +
               $"(EagleOptions.MaxQueuedRequests). Retry in about {retryAfter.TotalSeconds:F0} s.")
    {
        RetryAfter = retryAfter;
    }

    /// <summary>Creates the exception with a message of the caller's.</summary>
    public EngineBusyException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public EngineBusyException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the default message.</summary>
    public EngineBusyException() : this("The engine is busy.")
    {
    }

    /// <summary>A suggested delay before retrying: about one recent request's duration.</summary>
    public TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(1);
}
