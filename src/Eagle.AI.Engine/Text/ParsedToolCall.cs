using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>A tool call recognised in generated assistant text.</summary>
/// <param name="Name">The tool's name.</param>
/// <param name="Arguments">
/// The arguments by name, in the order generated. Values are <see cref="JsonElement"/>s detached from any document
/// (safe to keep); Microsoft.Extensions.AI's function invocation accepts them as argument values.
/// </param>
public sealed record ParsedToolCall(string Name, IReadOnlyDictionary<string, JsonElement> Arguments)
{
    /// <summary>The arguments as one JSON object, ready for <see cref="PromptToolCall"/> in the history.</summary>
    public PromptToolCall ToPromptToolCall() => new(Name, JsonSerializer.SerializeToElement(Arguments));
}
