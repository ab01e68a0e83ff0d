using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary>Vanilla and speculative decoding on the same prompts in one run, with the verify-cost curve they depend on.</summary>
internal static class SpeculativeBench
{
    /// <summary>First turns of a question file (chat format when the model folder has a tokenizer), else seeded random ids.</summary>
    public static List<int[]> Prompts(string? modelFolder, string? questionsFile, int limit, int vocab)
    {
        if (questionsFile is null)
        {
            var random = new Random(7);
            return Enumerable.Range(0, limit).Select(_ => Enumerable.Range(0, 16).Select(_ => random.Next(vocab)).ToArray()).ToList();
        }
        var questions = QuestionFile.Read(questionsFile, limit, modelFolder);
        return [.. questions.Turns.Select(t => questions.Render(PromptMessage.User(t[0])))];
    }

    public static Dictionary<string, object> Run(LlamaForCausalLM target, List<int[]> prompts, GenerationOptions options,
        string[] sizes, Func<string, EagleDrafter> drafterFor, int contextLimit)
    {
        var curve = VerifyCostCurve.Measure(target);
        var vanilla = new VanillaGenerator(target, contextLimit);
        vanilla.Generate(prompts[0], options with { MaxNewTokens = 4 }); // warm-up
        var baseline = prompts.Select(p => vanilla.Generate(p, options)).ToList();
        double baseTps = Throughput(baseline);
        var rows = new List<Dictionary<string, object>>
        {
            new() { ["mode"] = "vanilla", ["tokens_per_second"] = Math.Round(baseTps, 2), ["speedup"] = 1.0, ["tau"] = 1.0 },
        };
        foreach (string size in sizes)
        {
            using var drafter = drafterFor(size);
            var costs = drafter.Tree.Adaptive ? SpeculationCosts.Measure(target, drafter, curve) : null;
            var gen = new SpeculativeGenerator(target, drafter, contextLimit) { Costs = costs };
            gen.Generate(prompts[0], options with { MaxNewTokens = 4 });
            var results = prompts.Select(p => gen.Generate(p, options)).ToList();
            double decode = results.Sum(r => r.Stats.DecodeMs), draft = results.Sum(r => r.Stats.DraftMs), verify = results.Sum(r => r.Stats.VerifyMs);
            double identical = results.Zip(baseline).Count(x => x.First.OutputIds.SequenceEqual(x.Second.OutputIds)) / (double)results.Count;
            rows.Add(new()
            {
                ["mode"] = $"eagle {drafter.Head.Kind} {drafter.Tree.Kind.ToString().ToLowerInvariant()} " + (drafter.Tree.Adaptive ? $"auto ≤{drafter.MaxTreeTokens}" : $"{drafter.MaxTreeTokens}"),
                ["tokens_per_second"] = Math.Round(Throughput(results), 2),
                ["speedup"] = Math.Round(Throughput(results) / baseTps, 3),
                ["tau"] = Math.Round(results.Sum(r => r.Stats.GeneratedTokens - 1) / (double)Math.Max(1, results.Sum(r => r.Stats.Rounds)), 3),
                ["draft_share"] = Math.Round(draft / decode, 3),
                ["verify_share"] = Math.Round(verify / decode, 3),
                ["other_share"] = Math.Round(1 - (draft + verify) / decode, 3),
                ["identical_to_vanilla"] = Math.Round(identical, 3),
                ["drafted_round_share"] = Math.Round(results.Sum(r => r.Stats.DraftedRounds) / (double)Math.Max(1, results.Sum(r => r.Stats.Rounds)), 3),
                ["mean_tree_tokens"] = Math.Round(results.Sum(r => r.Stats.VerifiedTreeTokens) / (double)Math.Max(1, results.Sum(r => r.Stats.DraftedRounds)), 2),
            });
        }
        return new Dictionary<string, object>
        {
            ["prompts"] = prompts.Count,
            ["max_new_tokens"] = options.MaxNewTokens,
            ["temperature"] = options.Sampling.Temperature,
            ["verify_cost_ms"] = curve.Ratios().ToDictionary(p => p.Tokens.ToString(), p => Math.Round(p.Milliseconds, 3)),
            ["verify_cost_ratio"] = curve.Ratios().ToDictionary(p => p.Tokens.ToString(), p => Math.Round(p.RatioToOne, 3)),
            ["runs"] = rows,
        };
    }

    // Decode throughput: tokens after the first over decode time (prefill excluded, as in the vanilla bench).
    private static double Throughput(List<GenerationResult> results) =>
        results.Sum(r => r.Stats.GeneratedTokens - 1) / (results.Sum(r => r.Stats.DecodeMs) / 1000.0);

    public static void Print(Dictionary<string, object> report)
    {
        var ratios = (Dictionary<string, double>)report["verify_cost_ratio"];
        Console.WriteLine($"{report["prompts"]} prompts × {report["max_new_tokens"]} new tokens, temperature {report["temperature"]}");
        Console.WriteLine($"verify cost (forward time for n tokens ÷ one token): {string.Join("  ", ratios.Select(p => $"{p.Key}:{p.Value:F2}"))}");
        Console.WriteLine("columns: τ = tokens per target forward; draft/verify/other = share of decode time; same = outputs identical to vanilla; " +
                          "drafted = share of rounds that drafted a tree (auto skips drafting when no tree pays); tree = mean tokens verified per drafted round");
        Console.WriteLine($"{"mode",-34}{"tokens/s",10}{"speedup",9}{"τ",7}{"draft",8}{"verify",8}{"other",8}{"same",7}{"drafted",9}{"tree",7}");
        foreach (var row in (List<Dictionary<string, object>>)report["runs"])
        {
            string Share(string key) => row.TryGetValue(key, out var v) ? $"{(double)v:P0}" : "";
            Console.WriteLine($"{row["mode"],-34}{row["tokens_per_second"],10}{row["speedup"],9:F2}{row["tau"],7:F2}" +
                              $"{Share("draft_share"),8}{Share("verify_share"),8}{Share("other_share"),8}{Share("identical_to_vanilla"),7}" +
                              $"{Share("drafted_round_share"),9}{(row.TryGetValue("mean_tree_tokens", out var t) ? $"{t:F1}" : ""),7}");
        }
    }
}
