using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary><c>eagle generate --model &lt;dir&gt; --prompt-ids 1,2,3</c>: one request, vanilla or speculative.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "target model folder", Required = true };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "comma-separated prompt token ids, used as given (no BOS added)" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "most tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0f };
        var topP = new Option<float>("--top-p") { Description = "nucleus mass in (0, 1]", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "0 = off", DefaultValueFactory = _ => 0 };
        var seed = new Option<long?>("--seed") { Description = "sampling seed (same seed, same output)" };
        var contextLimit = new Option<int>("--context-limit") { Description = "KV positions per request", DefaultValueFactory = _ => ContextBudget.DefaultContextLimit };
        var device = Cli.Device();
        var dtype = Cli.DType();
        var json = Cli.JsonOutput();
        var cmd = new Command("generate", "Generate from a prompt")
        {
            model, promptIds, maxNew, temperature, topP, topK, seed, contextLimit, device, dtype, json,
        };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchRuntime.EnsureInitialized();
            var dev = TorchRuntime.ParseDevice(r.GetValue(device)!);
            var dt = TorchRuntime.ParseDType(r.GetValue(dtype)!, dev);
            string folder = r.GetValue(model)!;
            int[] prompt = r.GetValue(promptIds) is { } ids ? Cli.ParseIds(ids, "--prompt-ids")
                : throw new ArgumentException("--prompt-ids is required");
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew),
                Sampling = new SamplingOptions
                {
                    Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), TopK = r.GetValue(topK), Seed = r.GetValue(seed),
                },
            };
            options.Validate();
            using var target = LlamaCheckpoint.Load(folder, dt, dev, Cli.LoadProgress("model"));
            bool asJson = r.GetValue(json);
            var result = new VanillaGenerator(target, r.GetValue(contextLimit)).Generate(prompt, options,
                asJson ? null : ids => Console.Write(string.Concat(ids.Select(i => i + " "))));
            if (asJson)
                Console.WriteLine(JsonSerializer.Serialize(ToJson(result), Cli.Json));
            else
            {
                Console.WriteLine();
                Console.Error.WriteLine(Describe(result));
            }
            return 0;
        }));
        return cmd;
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
            ["accepted_draft_tokens"] = r.Stats.AcceptedDraftTokens,
            ["mean_acceptance_length"] = Math.Round(r.Stats.MeanAcceptanceLength, 4),
            ["draft_ms"] = Math.Round(r.Stats.DraftMs, 3),
            ["verify_ms"] = Math.Round(r.Stats.VerifyMs, 3),
        },
    };

    public static string Describe(GenerationResult r) =>
        $"{r.Stats.GeneratedTokens} tokens ({r.FinishReason.ToString().ToLowerInvariant()}); prompt {r.Stats.PromptTokens} tokens, " +
        $"prefill {r.Stats.PrefillMs:F1} ms, decode {r.Stats.DecodeTokensPerSecond:F1} tokens/s, " +
        $"τ {r.Stats.MeanAcceptanceLength:F2} over {r.Stats.Rounds} rounds";
}
