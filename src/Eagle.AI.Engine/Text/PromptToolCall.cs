using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>A tool call made by the assistant, as kept in the conversation history.</summary>
public sealed record PromptToolCall
{
    /// <summary>Creates a tool call.</summary>
    /// <param name="name">The tool's name.</param>
    /// <param name="arguments">The arguments, normally a JSON object; copied, so the source document may be disposed.</param>
    public PromptToolCall(string name, JsonElement arguments)
    {
        Name = name;
        Arguments = arguments.Clone();
    }

    /// <summary>The tool's name.</summary>
    public string Name { get; }

    /// <summary>The arguments, rendered with the template's <c>tojson</c> (key order kept).</summary>
    public JsonElement Arguments { get; }
}
