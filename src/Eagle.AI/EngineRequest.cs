using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;

namespace Eagle.AI;

/// <summary>One generation request as the engine's generation thread runs it.</summary>
/// <param name="PromptIds">The prompt, used as given (the chat format already put BOS and headers in).</param>
/// <param name="Options">Budget, sampling and stop ids.</param>
/// <param name="Speculative">Whether to draft with the EAGLE head (ignored when the engine has none).</param>
/// <param name="Tree">The draft tree for this request; null = the engine's.</param>
internal sealed record EngineRequest(IReadOnlyList<int> PromptIds, GenerationOptions Options, bool Speculative, TreeSettings? Tree = null);

/// <summary>
/// Produces a request's tokens on the generation thread: the real model, or a scripted stand-in in tests. It calls
/// <paramref name="onTokens"/> once per decoding round (prefill's token first) and, like the engine's generators,
/// throws <see cref="OperationCanceledException"/> between rounds once <paramref name="cancellationToken"/> is cancelled.
/// </summary>
internal delegate GenerationResult TokenSource(EngineRequest request, Action<IReadOnlyList<int>> onTokens, CancellationToken cancellationToken);
