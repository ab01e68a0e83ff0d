using Eagle.AI.Engine.Decoding;

namespace Eagle.AI;

/// <summary>
/// What the engine's scheduler drives on its generation thread: the loaded model, or a script in tests. A request
/// becomes a session when it is admitted; each scheduler step then advances every active session by one decoding step
/// (one token, or one speculative round) through one batched forward.
/// </summary>
internal interface IRequestDecoder
{
    /// <summary>
    /// Starts <paramref name="request"/>'s session, allocating what it holds. <paramref name="onTokens"/> sees each
    /// step's tokens (prefill's token first) and returns false to end the request there. Throws to fail this request alone.
    /// </summary>
    IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens);

    /// <summary>
    /// One step of every session in <paramref name="sessions"/> (none done), together. A session that fails on its own
    /// ends with <see cref="IRequestSession.Failure"/>; an exception fails the whole step.
    /// </summary>
    void Step(IReadOnlyList<IRequestSession> sessions);

    /// <summary>Positions of finished requests' KV kept for reuse (the prefix cache); read on the generation thread only.</summary>
    int RetainedPositions => 0;
}

/// <summary>One admitted request on the generation thread.</summary>
internal interface IRequestSession : IDisposable
{
    /// <summary>Whether generation is over.</summary>
    bool Done { get; }

    /// <summary>The outcome so far; complete once <see cref="Done"/>.</summary>
    GenerationResult Result { get; }

    /// <summary>Why the request failed alone in a shared step (then it is <see cref="Done"/> without a result); null otherwise.</summary>
    Exception? Failure => null;

    /// <summary>The counters so far, read around each step for the engine's metrics (a script may leave them zero).</summary>
    DecodingProgress Progress => default;
}
