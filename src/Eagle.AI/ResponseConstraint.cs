using System.Text.Json;
using Eagle.AI.Engine.Constraints;
using Microsoft.Extensions.AI;

namespace Eagle.AI;

/// <summary>
/// What the chat options constrain the answer to: a required tool call (<see cref="ChatToolMode.RequireAny"/> or
/// <see cref="ChatToolMode.RequireSpecific"/>) is a LLaMA-3.1 JSON call of an offered function with valid parameters;
/// otherwise a JSON <see cref="ChatOptions.ResponseFormat"/> is one JSON object, or one value valid against its schema.
/// <see cref="ChatToolMode.Auto"/> and text answers are unconstrained.
/// </summary>
internal static class ResponseConstraint
{
    /// <summary>The grammar the answer must follow, or null; <paramref name="instruction"/> tells the model the format too.</summary>
    /// <param name="options">The caller's options.</param>
    /// <param name="offered">The functions offered in the prompt (a specific required function alone), or null.</param>
    /// <param name="instruction">A system-turn line describing the response format (not for tool calls, which have their own).</param>
    /// <exception cref="NotSupportedException">The response schema uses a keyword constrained decoding cannot enforce; the message names it.</exception>
    public static JsonGrammar? Grammar(ChatOptions? options, IReadOnlyList<string>? offered, out string? instruction)
    {
        instruction = null;
        if (options?.ToolMode is RequiredChatToolMode && offered is not null)
        {
            var functions = options.Tools!.OfType<AIFunctionDeclaration>().Where(f => offered.Contains(f.Name));
            return JsonGrammar.ToolCall(functions.Select(f => KeyValuePair.Create(f.Name, (JsonElement?)f.JsonSchema)));
        }
        if (options?.ResponseFormat is not ChatResponseFormatJson json) return null;
        if (json.Schema is not { } schema)
        {
            instruction = "Respond only with a JSON object.";
            return JsonGrammar.AnyObject;
        }
        var grammar = JsonGrammar.FromSchema(schema);
        instruction = $"Respond only with JSON that matches this JSON Schema:\n{schema.GetRawText()}";
        return grammar;
    }
}
