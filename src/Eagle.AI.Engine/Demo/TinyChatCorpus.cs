using System.Text.Json;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Text;
using static Eagle.AI.Engine.Demo.TinyChatScript;

namespace Eagle.AI.Engine.Demo;

/// <summary>One scripted conversation: its messages (assistant turns included), the tools offered, and which turns are answers to learn.</summary>
internal sealed record ScriptedConversation(IReadOnlyList<PromptMessage> Messages, IReadOnlyList<PromptTool>? Tools);

/// <summary>A prompt (ending with the open assistant header) and the ids the model must continue it with, end-of-turn included.</summary>
internal sealed record ScriptedCheck(int[] Prompt, int[] Expected);

/// <summary>
/// The training conversations of the tiny chat demo model (<see cref="TinyChatRecipe"/>), rendered with the same 3.1 chat format the provider uses.
/// The wording around the answers varies (system prompts, tool schemas as the different front ends write them,
/// plugin-qualified tool names) so the model learns to answer the question, not to recognise one exact prompt.
/// </summary>
internal static class TinyChatCorpus
{
    private static readonly string?[] Systems =
    [
        null,
        "You are a helpful assistant.",
        "You are Eagle. Answer briefly.",
        "Answer the user's questions, using the tools you have when they help.",
    ];

    // The parameter schema as AIFunctionFactory, Semantic Kernel and an OpenAI request body typically spell it.
    private static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""",
        """{"type":"object","properties":{"city":{"type":"string","description":"The city name."}},"required":["city"]}""",
        """{"type":"object","required":["city"],"properties":{"city":{"type":"string"}},"additionalProperties":false}""",
    ];

    private static readonly JsonElement Arguments = JsonSerializer.SerializeToElement(new Dictionary<string, string> { [WeatherParameterName] = WeatherCity });

    /// <summary>Every conversation: plain answers with and without tools on offer, two-turn chats, and the tool round trip under every name and schema.</summary>
    public static List<ScriptedConversation> Conversations()
    {
        var result = new List<ScriptedConversation>();
        int variant = 0;
        foreach (string? system in Systems)
        {
            var plain = Tools(WeatherFunctionNames[variant % WeatherFunctionNames.Count], Schemas[variant % Schemas.Length]);
            variant++;
            result.Add(new(With(system, User(GreetingQuestion), Assistant(GreetingAnswer)), null));
            result.Add(new(With(system, User(CapitalQuestion), Assistant(CapitalAnswer)), null));
            result.Add(new(With(system, User(GreetingQuestion), Assistant(GreetingAnswer), User(CapitalQuestion), Assistant(CapitalAnswer)), null));
            result.Add(new(With(system, User(CapitalQuestion), Assistant(CapitalAnswer), User(GreetingQuestion), Assistant(GreetingAnswer)), null));
            result.Add(new(With(system, User(GreetingQuestion), Assistant(GreetingAnswer)), plain));
            result.Add(new(With(system, User(CapitalQuestion), Assistant(CapitalAnswer)), plain));
            foreach (string name in WeatherFunctionNames)
                foreach (string schema in Schemas)
                    result.Add(new(With(system,
                        User(WeatherQuestion),
                        PromptMessage.AssistantToolCalls(new PromptToolCall(name, Arguments)),
                        PromptMessage.Tool(WeatherResult),
                        Assistant(WeatherAnswer)), Tools(name, schema)));
        }
        return result;
    }

    /// <summary>The conversations as ids, scoring only the assistant turns (their text and their end-of-turn id).</summary>
    public static List<LearnedSequence> Render(Llama3Tokenizer tokenizer, IEnumerable<ScriptedConversation> conversations)
    {
        var format = new Llama3ChatFormat(tokenizer);
        var result = new List<LearnedSequence>();
        foreach (var c in conversations)
        {
            var ids = format.Format(c.Messages, c.Tools, Closed).Ids.ToArray();
            var learn = new bool[ids.Length];
            foreach (var (start, end) in AnswerSpans(format, c))
                for (int i = start - 1; i < end - 1; i++) learn[i] = true;  // position i predicts ids[i + 1]
            result.Add(new LearnedSequence(ids, learn));
        }
        return result;
    }

    /// <summary>For every assistant turn: the prompt up to its open header and the answer's ids.</summary>
    public static List<ScriptedCheck> Checks(Llama3Tokenizer tokenizer, IEnumerable<ScriptedConversation> conversations)
    {
        var format = new Llama3ChatFormat(tokenizer);
        var result = new List<ScriptedCheck>();
        foreach (var c in conversations)
        {
            var ids = format.Format(c.Messages, c.Tools, Closed).Ids.ToArray();
            foreach (var (start, end) in AnswerSpans(format, c))
                result.Add(new ScriptedCheck(ids[..start], ids[start..end]));
        }
        return result;
    }

    private static readonly ChatFormatOptions Closed = new() { AddGenerationPrompt = false };

    // [start, end) of each assistant turn's ids in the full rendering: the prompt rendered up to that turn ends at
    // start (with the open header), and the conversation rendered through that turn ends at end.
    private static IEnumerable<(int Start, int End)> AnswerSpans(Llama3ChatFormat format, ScriptedConversation c)
    {
        var full = format.Format(c.Messages, c.Tools, Closed).Ids;
        for (int k = 0; k < c.Messages.Count; k++)
        {
            if (c.Messages[k].Role != PromptRole.Assistant) continue;
            var before = c.Messages.Take(k).ToList();
            var prompt = format.Format(before, c.Tools).Ids;
            var through = format.Format(c.Messages.Take(k + 1).ToList(), c.Tools, Closed).Ids;
            if (!full.Take(through.Count).SequenceEqual(through) || !through.Take(prompt.Count).SequenceEqual(prompt))
                throw new InvalidOperationException($"turn {k}: the rendering of a conversation prefix is not a prefix of the whole rendering");
            yield return (prompt.Count, through.Count);
        }
    }

    private static List<PromptMessage> With(string? system, params PromptMessage[] turns) =>
        system is null ? [.. turns] : [PromptMessage.System(system), .. turns];

    private static PromptMessage User(string text) => PromptMessage.User(text);

    private static PromptMessage Assistant(string text) => PromptMessage.Assistant(text);

    private static List<PromptTool> Tools(string name, string schema)
    {
        using var doc = JsonDocument.Parse(schema);
        return [PromptTool.Function(name, WeatherFunctionDescription, doc.RootElement)];
    }
}
