using Eagle.AI.Engine.Decoding;

namespace Eagle.AI;

/// <summary>
/// Produces a request's tokens on the generation thread: the real model, or a scripted stand-in in tests. It calls
/// <paramref name="onTokens"/> once per decoding round (prefill's token first) and, like the engine's generators,
/// throws <see cref="OperationCanceledException"/> between rounds once <paramref name="cancellationToken"/> is cancelled.
/// </summary>
internal delegate GenerationResult TokenSource(EngineRequest request, Action<IReadOnlyList<int>> onTokens, CancellationToken cancellationToken);
