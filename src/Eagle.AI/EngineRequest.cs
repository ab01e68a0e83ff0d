using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;

namespace Eagle.AI;

/// <summary>One generation request as the engine's generation thread runs it.</summary>
/// <param name="PromptIds">The prompt, used as given (the chat format already put BOS and headers in).</param>
/// <param name="Options">Budget, sampling and stop ids.</param>
/// <param name="Speculative">Whether to draft with the EAGLE head (ignored when the engine has none).</param>
/// <param name="Tree">The draft tree for this request; null = the engine's.</param>
/// <param name="ConversationId">The caller's conversation id (ChatOptions.ConversationId): pins the request's retained prefix.</param>
internal sealed record EngineRequest(IReadOnlyList<int> PromptIds, GenerationOptions Options, bool Speculative, TreeSettings? Tree = null,
    string? ConversationId = null);
