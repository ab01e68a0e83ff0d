using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// One message of a conversation, in the engine's own terms (it knows nothing of Microsoft.Extensions.AI).
/// Create it with the factory methods: <see cref="System"/>, <see cref="User"/>, <see cref="Assistant"/>,
/// <see cref="AssistantToolCalls"/> and <see cref="Tool(JsonElement)"/>.
/// </summary>
public sealed record PromptMessage
{
    private PromptMessage(PromptRole role, string text, IReadOnlyList<PromptToolCall> toolCalls, JsonElement? toolResult)
    {
        Role = role;
        Text = text;
        ToolCalls = toolCalls;
        ToolResult = toolResult;
    }

    /// <summary>Who speaks.</summary>
    public PromptRole Role { get; }

    /// <summary>The text of a system, user or assistant message; empty for tool calls and tool results.</summary>
    public string Text { get; }

    /// <summary>The assistant's tool calls; each is rendered as its own assistant turn, since LLaMA-3.1 makes one call per turn.</summary>
    public IReadOnlyList<PromptToolCall> ToolCalls { get; }

    /// <summary>The result of a <see cref="PromptRole.Tool"/> message: a JSON string, object, array or scalar.</summary>
    public JsonElement? ToolResult { get; }

    /// <summary>A system message.</summary>
    /// <param name="text">Its text.</param>
    public static PromptMessage System(string text) => new(PromptRole.System, text, [], null);

    /// <summary>A user message.</summary>
    /// <param name="text">Its text.</param>
    public static PromptMessage User(string text) => new(PromptRole.User, text, [], null);

    /// <summary>An assistant message with text.</summary>
    /// <param name="text">Its text.</param>
    public static PromptMessage Assistant(string text) => new(PromptRole.Assistant, text, [], null);

    /// <summary>An assistant message that calls tools.</summary>
    /// <param name="calls">At least one call.</param>
    /// <exception cref="ArgumentException">No call was given.</exception>
    public static PromptMessage AssistantToolCalls(params IReadOnlyList<PromptToolCall> calls) =>
        calls.Count > 0
            ? new(PromptRole.Assistant, "", [.. calls], null)
            : throw new ArgumentException("An assistant tool-call message needs at least one call.", nameof(calls));

    /// <summary>A tool result. Strings, objects and arrays are rendered with <c>tojson</c> (so strings appear quoted), as the template does.</summary>
    /// <param name="result">The result; copied, so the source document may be disposed.</param>
    public static PromptMessage Tool(JsonElement result) => new(PromptRole.Tool, "", [], result.Clone());

    /// <summary>A tool result given as a string (rendered JSON-quoted, as the template does).</summary>
    /// <param name="result">The result text.</param>
    public static PromptMessage Tool(string result) => Tool(JsonSerializer.SerializeToElement(result));
}
