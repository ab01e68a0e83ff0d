using Eagle.AI.Engine.Text;

namespace Eagle.AI;

/// <summary>A chat request turned into engine terms, before it is queued.</summary>
/// <param name="Prompt">The rendered prompt and its ids.</param>
/// <param name="Request">What the generation thread runs.</param>
/// <param name="StopSequences">Text that ends the answer (held back until it can no longer be the start of one).</param>
/// <param name="DetectToolCalls">Whether tools were offered, so an answer that starts like a call is buffered and parsed.</param>
/// <param name="RequireToolCall">Whether the tool mode demands a call (a text answer is then logged).</param>
/// <param name="SingleToolCall">Whether only the first of several calls is kept (<c>AllowMultipleToolCalls = false</c>).</param>
internal sealed record PreparedChat(
    ChatPrompt Prompt,
    EngineRequest Request,
    IReadOnlyList<string> StopSequences,
    bool DetectToolCalls,
    bool RequireToolCall,
    bool SingleToolCall);
