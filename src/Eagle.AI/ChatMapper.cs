using System.Globalization;
using System.Text.Json;
using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Eagle.AI;

/// <summary>
/// Maps Microsoft.Extensions.AI requests to engine requests and engine results back. Reads the caller's
/// <see cref="ChatOptions"/> once, at call time, and never writes to them.
/// </summary>
internal static class ChatMapper
{
    private static readonly JsonElement JsonNull = JsonSerializer.SerializeToElement<object?>(null, AIJsonUtilities.DefaultOptions);

    /// <summary>Validates the options, renders the conversation and builds the engine request.</summary>
    /// <exception cref="ArgumentException">No messages, <see cref="ChatOptions.ModelId"/> names another model, or the prompt leaves no room in the context.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the exception names it.</exception>
    /// <exception cref="NotSupportedException">A message holds non-text input (images, audio, files).</exception>
    public static PreparedChat Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options, EagleEngine engine, ILogger logger)
    {
        var list = messages.ToList();
        if (list.Count == 0) throw new ArgumentException("At least one message is needed.", nameof(messages));
        var info = engine.Info;
        if (options?.ModelId is { } id && !string.Equals(id, info.ModelId, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException(
                $"ChatOptions.ModelId '{id}' does not match this client's model '{info.ModelId}'. An Eagle client serves one model; " +
                "register one client per model with AddKeyedEagleChatClient.", nameof(options));
        ValidateSampling(options);
        var stops = ToStopSequences(options?.StopSequences);
        var (speculative, tree) = ToEngineKnobs(options?.AdditionalProperties, info);
        var tools = ToPromptTools(options, out string? toolInstruction);
        var grammar = ResponseConstraint.Grammar(options, tools?.Select(t => t.Name).ToList(), out string? formatInstruction);
        LogIgnored(options, logger);

        var prompt = new Llama3ChatFormat(engine.Tokenizer).Format(
            ToPromptMessages(list, options?.Instructions, toolInstruction ?? formatInstruction), tools, new ChatFormatOptions { Version = info.ChatFormat });
        info.ThrowIfPromptTooLong(prompt.Ids.Count, nameof(messages));
        var generation = ToGenerationOptions(options, info, prompt.Ids.Count) with
        {
            Constraint = grammar is null ? null : new OutputConstraint(grammar, TokenTrie.For(engine.Tokenizer)),
        };
        var request = new EngineRequest(prompt.Ids, generation, speculative, tree, options?.ConversationId);
        return new PreparedChat(prompt, request, stops, tools is not null, toolInstruction is not null, options?.AllowMultipleToolCalls == false);
    }

    /// <summary>
    /// The conversation in engine terms. System messages, <paramref name="instructions"/> and the tool-mode instruction
    /// merge, in that order, into one system turn (the 3.1 template has one system block). Assistant function calls and
    /// tool results become 3.1 tool-call turns and <c>ipython</c> turns. Any role other than system, assistant and tool
    /// (e.g. <c>developer</c>) is rendered as a user turn.
    /// </summary>
    internal static List<PromptMessage> ToPromptMessages(IReadOnlyList<ChatMessage> messages, string? instructions, string? toolInstruction)
    {
        var system = new List<string?>();
        var turns = new List<PromptMessage>();
        foreach (var m in messages)
        {
            if (m.Role == ChatRole.System) system.Add(TextOf(m));
            else if (m.Role == ChatRole.Assistant) AddAssistant(m, turns);
            else if (m.Role == ChatRole.Tool) AddToolResults(m, turns);
            else turns.Add(PromptMessage.User(TextOf(m)));
        }
        system.Add(instructions);
        system.Add(toolInstruction);
        string text = string.Join("\n\n", system.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s!.Trim()));
        if (text.Length > 0) turns.Insert(0, PromptMessage.System(text));
        return turns;
    }

    /// <summary>
    /// The functions offered, as OpenAI-shaped definitions; null when none are (no tools, <see cref="ChatToolMode.None"/>,
    /// or only non-function tools). A required tool mode adds <paramref name="instruction"/> for the system turn; a
    /// specific required function is the only one offered.
    /// </summary>
    internal static IReadOnlyList<PromptTool>? ToPromptTools(ChatOptions? options, out string? instruction)
    {
        instruction = null;
        if (options is null || options.ToolMode is NoneChatToolMode) return null;
        var functions = options.Tools?.OfType<AIFunctionDeclaration>().ToList() ?? [];
        if (options.ToolMode is RequiredChatToolMode required)
        {
            if (required.RequiredFunctionName is { } name)
            {
                functions = functions.Where(f => f.Name == name).ToList();
                if (functions.Count == 0)
                    throw OutOfRange(nameof(ChatOptions.ToolMode), name, $"ChatOptions.ToolMode requires the function '{name}', which is not in ChatOptions.Tools.");
                instruction = $"Respond only with a JSON function call to the function \"{name}\".";
            }
            else
            {
                if (functions.Count == 0)
                    throw OutOfRange(nameof(ChatOptions.ToolMode), "RequireAny", "ChatOptions.ToolMode requires a function call, but ChatOptions.Tools has no function.");
                instruction = "Respond only with a JSON function call to one of the given functions.";
            }
        }
        return functions.Count == 0
            ? null
            : [.. functions.Select(f => PromptTool.Function(f.Name, string.IsNullOrEmpty(f.Description) ? null : f.Description, f.JsonSchema))];
    }

    /// <summary>Budget, sampling and stop ids; what the options leave unset comes from the engine's defaults.</summary>
    internal static GenerationOptions ToGenerationOptions(ChatOptions? options, EngineInfo info, int promptTokens)
    {
        var d = info.Defaults;
        // Without a budget the answer may fill the context; a prompt that leaves no room is refused by the engine.
        int room = Math.Max(1, info.MaxContextTokens - promptTokens);
        return new GenerationOptions
        {
            MaxNewTokens = options?.MaxOutputTokens ?? d.MaxOutputTokens ?? room,
            Sampling = new SamplingOptions
            {
                Temperature = options?.Temperature ?? d.Temperature,
                TopP = options?.TopP ?? d.TopP,
                TopK = options?.TopK ?? d.TopK,
                Seed = options?.Seed,
            },
            StopTokenIds = d.StopTokenIds,
        };
    }

    /// <summary>Reads <see cref="EagleChatOptionKeys"/> from the additional properties.</summary>
    internal static (bool Speculative, TreeSettings? Tree) ToEngineKnobs(AdditionalPropertiesDictionary? properties, EngineInfo info)
    {
        bool? speculative = GetBool(properties, EagleChatOptionKeys.Speculative);
        if (speculative == true && !info.HasDraftModel)
            throw OutOfRange(EagleChatOptionKeys.Speculative, true, $"{EagleChatOptionKeys.Speculative} is true, but no draft model is loaded (set EagleOptions.DraftModelPath).");
        int? total = GetInt(properties, EagleChatOptionKeys.TreeTotalTokens);
        int? depth = GetInt(properties, EagleChatOptionKeys.TreeDepth);
        int? topK = GetInt(properties, EagleChatOptionKeys.TreeTopK);
        TreeSettings? tree = null;
        if (total is not null || depth is not null || topK is not null)
        {
            var current = info.Tree ?? TreeSettings.Default;
            tree = current with { TotalTokens = total ?? current.TotalTokens, Depth = depth ?? current.Depth, TopK = topK ?? current.TopK };
            try
            {
                tree.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                string key = e.ParamName switch
                {
                    nameof(TreeSettings.TotalTokens) => EagleChatOptionKeys.TreeTotalTokens,
                    nameof(TreeSettings.Depth) => EagleChatOptionKeys.TreeDepth,
                    _ => EagleChatOptionKeys.TreeTopK,
                };
                throw OutOfRange(key, e.ActualValue, $"{key}: {e.Message}");
            }
        }
        return (speculative ?? info.SpeculativeByDefault, info.HasDraftModel ? tree : null);
    }

    /// <summary>The usage of one request, with EAGLE's counters (see <see cref="EagleUsageKeys"/>).</summary>
    internal static UsageContent ToUsage(GenerationStats stats) => new(new UsageDetails
    {
        InputTokenCount = stats.PromptTokens,
        CachedInputTokenCount = stats.CachedPromptTokens,
        OutputTokenCount = stats.GeneratedTokens,
        TotalTokenCount = stats.PromptTokens + stats.GeneratedTokens,
        AdditionalCounts = new AdditionalPropertiesDictionary<long>
        {
            [EagleUsageKeys.TargetForwardPasses] = stats.TargetForwards,
            [EagleUsageKeys.DecodingRounds] = stats.Rounds,
            [EagleUsageKeys.DraftedRounds] = stats.DraftedRounds,
            [EagleUsageKeys.VerifiedTreeTokens] = stats.VerifiedTreeTokens,
            [EagleUsageKeys.AcceptedDraftTokens] = stats.AcceptedDraftTokens,
            [EagleUsageKeys.MeanAcceptanceLengthX1000] = (long)Math.Round(stats.MeanAcceptanceLength * 1000),
        },
    });

    /// <summary>A parsed call with a fresh call id; arguments are kept as <see cref="JsonElement"/>s, which function invocation binds.</summary>
    internal static FunctionCallContent ToFunctionCall(ParsedToolCall call) =>
        FunctionCallContent.CreateFromParsedArguments(call.Arguments, "call_" + Guid.NewGuid().ToString("N")[..24], call.Name,
            static arguments => arguments.ToDictionary(kv => kv.Key, kv => (object?)kv.Value));

    /// <summary>The engine's finish reason in MEAI terms (tool calls and stop strings are decided by the caller).</summary>
    internal static ChatFinishReason ToFinishReason(FinishReason reason) =>
        reason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static void ValidateSampling(ChatOptions? o)
    {
        if (o is null) return;
        foreach (var (option, value, rule) in SamplingOptions.OutOfRange(o.Temperature, o.TopP, o.TopK))
            throw OutOfRange(option, value, $"ChatOptions.{option} {rule}.");
        if (o.MaxOutputTokens is < 1)
            throw OutOfRange(nameof(ChatOptions.MaxOutputTokens), o.MaxOutputTokens, "ChatOptions.MaxOutputTokens must be >= 1.");
    }

    private static string[] ToStopSequences(IList<string>? stops)
    {
        if (stops is null) return [];
        if (stops.Any(string.IsNullOrEmpty))
            throw OutOfRange(nameof(ChatOptions.StopSequences), "", "ChatOptions.StopSequences must not contain null or empty strings.");
        return [.. stops];
    }

    private static void LogIgnored(ChatOptions? o, ILogger logger)
    {
        if (o is null) return;
        if (o.FrequencyPenalty is not null and not 0f) Log.IgnoredOption(logger, nameof(ChatOptions.FrequencyPenalty));
        if (o.PresencePenalty is not null and not 0f) Log.IgnoredOption(logger, nameof(ChatOptions.PresencePenalty));
        if (o.Reasoning is not null) Log.IgnoredOption(logger, nameof(ChatOptions.Reasoning));
    }

    private static string TextOf(ChatMessage m)
    {
        if (m.Contents.FirstOrDefault(c => c is DataContent or UriContent) is { } media)
            throw new NotSupportedException($"LLaMA-3 reads text only; a {m.Role} message holds {media.GetType().Name}.");
        return m.Text;
    }

    private static void AddAssistant(ChatMessage m, List<PromptMessage> turns)
    {
        string text = TextOf(m);
        var calls = m.Contents.OfType<FunctionCallContent>().Select(c => new PromptToolCall(c.Name, ToJson(c.Arguments ?? new Dictionary<string, object?>()))).ToList();
        if (text.Length > 0 || calls.Count == 0) turns.Add(PromptMessage.Assistant(text));
        if (calls.Count > 0) turns.Add(PromptMessage.AssistantToolCalls(calls));
    }

    private static void AddToolResults(ChatMessage m, List<PromptMessage> turns)
    {
        var results = m.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count == 0)
        {
            turns.Add(PromptMessage.Tool(TextOf(m)));
            return;
        }
        foreach (var r in results)
        {
            turns.Add(r.Result switch
            {
                null when r.Exception is { } e => PromptMessage.Tool($"Error: {e.Message}"),
                null => PromptMessage.Tool(JsonNull),
                JsonElement json => PromptMessage.Tool(json),
                string s => PromptMessage.Tool(s),
                var value => PromptMessage.Tool(ToJson(value)),
            });
        }
    }

    private static JsonElement ToJson(object value) =>
        JsonSerializer.SerializeToElement(value, AIJsonUtilities.DefaultOptions.GetTypeInfo(value.GetType()));

    private static bool? GetBool(AdditionalPropertiesDictionary? properties, string key) =>
        properties is null || !properties.TryGetValue(key, out object? value) || value is null ? null : value switch
        {
            bool b => b,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False } => false,
            string s when bool.TryParse(s, out bool b) => b,
            _ => throw OutOfRange(key, value, $"{key} must be true or false."),
        };

    private static int? GetInt(AdditionalPropertiesDictionary? properties, string key) =>
        properties is null || !properties.TryGetValue(key, out object? value) || value is null ? null : value switch
        {
            int i => i,
            long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
            JsonElement { ValueKind: JsonValueKind.Number } j when j.TryGetInt32(out int i) => i,
            string s when int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) => i,
            _ => throw OutOfRange(key, value, $"{key} must be an integer."),
        };

    private static ArgumentOutOfRangeException OutOfRange(string option, object? value, string message) => new(option, value, message);
}
