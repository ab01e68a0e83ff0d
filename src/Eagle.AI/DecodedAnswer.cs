using Eagle.AI.Engine.Text;

namespace Eagle.AI;

/// <summary>The end of an answer.</summary>
/// <param name="Text">Text still to show (all of it, for an answer that was held back).</param>
/// <param name="ToolCalls">The calls the answer consists of; empty for a text answer.</param>
/// <param name="NotAToolCall">Why the answer is not a tool call; null when it is one.</param>
/// <param name="StartedLikeToolCall">Whether the answer was held back as a call (parsed or not).</param>
internal sealed record DecodedAnswer(string Text, IReadOnlyList<ParsedToolCall> ToolCalls, string? NotAToolCall, bool StartedLikeToolCall);
