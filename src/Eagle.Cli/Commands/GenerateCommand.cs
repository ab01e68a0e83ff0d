using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary><c>eagle generate --model &lt;dir&gt; --prompt-ids 1,2,3</c>: one request, vanilla or speculative.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "target model folder", Required = true };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "comma-separated prompt token ids, used as given (no BOS added)" };
        var promptText = new Option<string?>("--prompt") { Description = "prompt text, encoded plain with BOS added (needs a tokenizer in the model folder)" };
        var user = new Option<string?>("--user") { Description = "one user message, rendered in the LLaMA-3 chat format (needs a tokenizer in the model folder)" };
        var messages = new Option<string?>("--messages") { Description = "a conversation JSON file — an OpenAI messages array, or {\"messages\": …, \"tools\": …} — rendered in the LLaMA-3 chat format" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "most tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0f };
        var topP = new Option<float>("--top-p") { Description = "nucleus mass in (0, 1]", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "0 = off", DefaultValueFactory = _ => 0 };
        var seed = new Option<long?>("--seed") { Description = "sampling seed (same seed, same output)" };
        var json = Cli.JsonOutput();
        var responseFormat = ResponseFormatOption.Create();
        var shared = new ModelOptions();
        var cmd = new Command("generate", "Generate from a prompt, vanilla or (with --draft) speculative")
        {
            model, promptIds, promptText, user, messages, maxNew, temperature, topP, topK, seed, responseFormat, json,
        };
        shared.AddTo(cmd);
        cmd.SetAction(r => Cli.Run(() =>
        {
            var plan = shared.Plan(r);
            string folder = r.GetValue(model)!;
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew),
                Sampling = new SamplingOptions
                {
                    Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), TopK = r.GetValue(topK), Seed = r.GetValue(seed),
                },
            };
            options.Validate();
            var tokenizer = ModelOptions.TryTokenizer(folder);
            options = options with { Constraint = ResponseFormatOption.Parse(r.GetValue(responseFormat), tokenizer) };
            int[] prompt = Prompt(r.GetValue(promptIds), r.GetValue(promptText), r.GetValue(user), r.GetValue(messages), tokenizer, folder);
            using var target = LlamaCheckpoint.Load(folder, plan, Cli.LoadProgress("model"));
            using var drafter = r.GetValue(shared.Draft) is { } draft
                ? EagleDrafter.Load(draft, target, shared.TreeSettings(r, r.GetValue(shared.TotalTokens)!), Cli.LoadProgress("draft head"), plan.DraftDevice)
                : null;
            bool asJson = r.GetValue(json);
            var detokenizer = tokenizer is null ? null : new IncrementalDetokenizer(tokenizer);
            Action<IReadOnlyList<int>>? stream = asJson ? null : ids =>
                Console.Write(detokenizer is null ? string.Concat(ids.Select(i => i + " ")) : detokenizer.Append(ids.ToArray()).Text);
            int limit = r.GetValue(shared.ContextLimit);
            var result = drafter is null
                ? new VanillaGenerator(target, limit).Generate(prompt, options, stream)
                : new SpeculativeGenerator(target, drafter, limit) { Costs = ModelOptions.MeasureCosts(target, drafter) }.Generate(prompt, options, stream);
            if (asJson)
            {
                var doc = ToJson(result);
                if (tokenizer is not null) doc["text"] = tokenizer.Decode(result.OutputIds);
                Console.WriteLine(JsonSerializer.Serialize(doc, Cli.Json));
            }
            else
            {
                if (detokenizer is not null) Console.Write(detokenizer.Flush().Text);
                Console.WriteLine();
                Console.Error.WriteLine(Describe(result));
            }
            return 0;
        }));
        return cmd;
    }

    // Exactly one of the prompt forms; text forms need the model folder's tokenizer.
    private static int[] Prompt(string? ids, string? text, string? user, string? messagesFile, Llama3Tokenizer? tokenizer, string folder)
    {
        int given = new[] { ids, text, user, messagesFile }.Count(v => v is not null);
        if (given != 1) throw new ArgumentException("give exactly one of --prompt-ids, --prompt, --user, --messages");
        if (ids is not null) return Cli.ParseIds(ids, "--prompt-ids");
        if (tokenizer is null)
            throw new ArgumentException($"--prompt, --user and --messages need a tokenizer in {folder} (original/tokenizer.model or tokenizer.json)");
        if (text is not null) return [tokenizer.BosId, .. tokenizer.Encode(text)];
        var defaults = ChatFormatOptions.Default with { Version = ChatFormatVersionDetector.Detect(folder) };
        if (user is not null) return [.. new Llama3ChatFormat(tokenizer).Format([PromptMessage.User(user)], null, defaults).Ids];
        if (!File.Exists(messagesFile)) throw new FileNotFoundException($"--messages: {messagesFile} not found", messagesFile);
        IReadOnlyList<ChatConversation> conversations;
        try
        {
            conversations = ConversationJson.ParseConversations(File.ReadAllText(messagesFile!), defaults);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--messages: {messagesFile}: {e.Message}", e);
        }
        if (conversations.Count != 1) throw new ArgumentException($"--messages: {messagesFile} must hold one conversation, not {conversations.Count}");
        return [.. new Llama3ChatFormat(tokenizer).Format(conversations[0]).Ids];
    }

    public static Dictionary<string, object?> ToJson(GenerationResult r) => new()
    {
        ["output_ids"] = r.OutputIds,
        ["finish_reason"] = r.FinishReason == FinishReason.Stop ? "stop" : "length",
        ["stats"] = new Dictionary<string, object>
        {
            ["prompt_tokens"] = r.Stats.PromptTokens,
            ["generated_tokens"] = r.Stats.GeneratedTokens,
            ["prefill_ms"] = Math.Round(r.Stats.PrefillMs, 3),
            ["decode_ms"] = Math.Round(r.Stats.DecodeMs, 3),
            ["decode_tokens_per_second"] = Math.Round(r.Stats.DecodeTokensPerSecond, 3),
            ["target_forwards"] = r.Stats.TargetForwards,
            ["rounds"] = r.Stats.Rounds,
            ["drafted_rounds"] = r.Stats.DraftedRounds,
            ["verified_tree_tokens"] = r.Stats.VerifiedTreeTokens,
            ["tree_sizes"] = r.Stats.TreeSizes.ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value),
            ["accepted_draft_tokens"] = r.Stats.AcceptedDraftTokens,
            ["mean_acceptance_length"] = Math.Round(r.Stats.MeanAcceptanceLength, 4),
            ["draft_ms"] = Math.Round(r.Stats.DraftMs, 3),
            ["verify_ms"] = Math.Round(r.Stats.VerifyMs, 3),
            ["mask_ms"] = Math.Round(r.Stats.MaskMs, 3),
        },
    };

    public static string Describe(GenerationResult r) =>
        $"{r.Stats.GeneratedTokens} tokens ({r.FinishReason.ToString().ToLowerInvariant()}); prompt {r.Stats.PromptTokens} tokens, " +
        $"prefill {r.Stats.PrefillMs:F1} ms, decode {r.Stats.DecodeTokensPerSecond:F1} tokens/s, " +
        $"τ {r.Stats.MeanAcceptanceLength:F2} over {r.Stats.Rounds} rounds" +
        (r.Stats.MaskStepMs.Count == 0 ? "" : $"; token masks {ResponseFormatOption.MaskTimes([r.Stats]).Mean:F2} ms/step (p99 {ResponseFormatOption.MaskTimes([r.Stats]).P99:F2})");
}
