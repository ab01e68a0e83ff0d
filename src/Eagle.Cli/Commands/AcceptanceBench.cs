using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>bench --acceptance P</c>: vanilla and speculative decoding of the same prompts on one target, the speculative
/// side with an EAGLE-3-shaped random head whose drafts are steered to acceptance P (<see cref="SteeredDrafter"/>), so
/// every cost is real and only the acceptance is chosen. The tree is adaptive unless --total-tokens fixes it.
/// </summary>
internal static class AcceptanceBench
{
    private const double ConfidentHeadScale = 24.0; // see Run: a peaked head, as a trained one is where it is right

    public static Dictionary<string, object> Run(LlamaForCausalLM target, double acceptance, int promptTokens, int prompts,
        GenerationOptions options, TreeSettings tree, int contextLimit)
    {
        int vocab = target.Config.VocabSize;
        int threads = TorchSharp.torch.get_num_threads();        // before decoding: the CPU kernels lower libtorch's own count while they run
        // The released 8B head drafts over 32k tokens. Its lm_head is scaled so that its draft distributions are as peaked
        // as a trained head's where it is right: a dynamic tree's shape follows the head's scores, and a flat random
        // head grows bushy one-level trees whose longest path (the one steered) is short, so the bench would measure
        // the random scores rather than P (llama3-1b at P = 0.8: τ 2.25 at scale 8, 2.78 at 24).
        using var head = Eagle3Head.CreateRandom(target, seed: 1, draftVocabSize: Math.Min(32000, vocab), lmHeadScale: ConfidentHeadScale);
        using var inner = new EagleDrafter(head, tree, ownsHead: false);
        var costs = tree.Adaptive ? SpeculationCosts.Measure(target, inner) : null;
        using var drafter = new SteeredDrafter(inner, acceptance, vocab, seed: 7);
        var random = new Random(11);
        var inputs = Enumerable.Range(0, prompts).Select(_ => Enumerable.Range(0, promptTokens).Select(_ => random.Next(vocab)).ToArray()).ToList();
        options = options with { StopTokenIds = [] };

        var vanilla = new VanillaGenerator(target, contextLimit);
        var speculative = new SpeculativeGenerator(target, drafter, contextLimit) { Costs = costs };
        // Warm-ups, then each prompt vanilla and at once speculative: the two sides of a pair run seconds apart, so a
        // shared machine's slow minutes (this 2-core host swings by a third) land on both rather than on one mode.
        var warm = vanilla.Generate(inputs[0], options with { MaxNewTokens = 4 });
        drafter.Steer([.. inputs[0], .. warm.OutputIds]);
        speculative.Generate(inputs[0], options with { MaxNewTokens = 4 });
        var baseline = new List<GenerationResult>();
        var results = new List<GenerationResult>();
        foreach (var p in inputs)
        {
            baseline.Add(vanilla.Generate(p, options));
            drafter.Steer([.. p, .. baseline[^1].OutputIds]);
            results.Add(speculative.Generate(p, options));
        }

        double vanillaTps = Throughput(baseline), speculativeTps = Throughput(results);
        var pairSpeedups = results.Zip(baseline, (s, v) => Throughput([s]) / Throughput([v])).Order().ToArray();
        int rounds = results.Sum(r => r.Stats.Rounds), drafted = results.Sum(r => r.Stats.DraftedRounds);
        var sizes = new SortedDictionary<int, int>();
        foreach (var r in results)
            foreach (var (size, count) in r.Stats.TreeSizes) sizes[size] = sizes.GetValueOrDefault(size) + count;
        var report = new Dictionary<string, object>
        {
            ["device"] = target.Device.ToString(),
            ["dtype"] = TorchRuntime.Name(target.DType),
            ["threads"] = threads,
            ["acceptance"] = acceptance,
            ["tree"] = tree.Adaptive ? $"adaptive, up to {inner.MaxTreeTokens} tokens" : $"{inner.MaxTreeTokens} tokens",
            ["prompts"] = prompts,
            ["prompt_tokens"] = promptTokens,
            ["max_new_tokens"] = options.MaxNewTokens,
            ["temperature"] = options.Sampling.Temperature,
            ["top_p"] = options.Sampling.TopP,
            ["vanilla_tokens_per_s"] = Math.Round(vanillaTps, 3),
            ["speculative_tokens_per_s"] = Math.Round(speculativeTps, 3),
            ["speedup"] = Math.Round(speculativeTps / vanillaTps, 3),
            ["speedup_per_prompt"] = new Dictionary<string, double>
            {
                ["min"] = Math.Round(pairSpeedups[0], 3),
                ["median"] = Math.Round(Median(pairSpeedups), 3),
                ["max"] = Math.Round(pairSpeedups[^1], 3),
            },
            ["mean_acceptance_length"] = Math.Round(results.Sum(r => r.Stats.GeneratedTokens - 1) / (double)Math.Max(1, rounds), 3),
            ["drafted_round_share"] = Math.Round(drafted / (double)Math.Max(1, rounds), 3),
            ["tree_sizes"] = sizes.ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value),
            ["vanilla_prefill_ms"] = Math.Round(baseline.Average(r => r.Stats.PrefillMs), 2),
            ["speculative_prefill_ms"] = Math.Round(results.Average(r => r.Stats.PrefillMs), 2),
            // where a drafted round's time goes: drafting (the head's steps) and the rest (verify forward, acceptance, commit)
            ["draft_ms_per_drafted_round"] = Math.Round(results.Sum(r => r.Stats.DraftMs) / Math.Max(1, drafted), 2),
            ["verify_ms_per_round"] = Math.Round(results.Sum(r => r.Stats.VerifyMs) / Math.Max(1, rounds), 2),
            ["vanilla_ms_per_token"] = Math.Round(1000 / vanillaTps, 2),
            ["identical_to_vanilla"] = Math.Round(results.Zip(baseline).Count(x => x.First.OutputIds.SequenceEqual(x.Second.OutputIds)) / (double)prompts, 3),
        };
        if (costs is not null)
        {
            report["step_ms"] = Math.Round(costs.StepMs, 3);
            report["draft_step_ms"] = Math.Round(costs.DraftStepMs, 3);
            report["draft_step_one_node_ms"] = Math.Round(costs.DraftStepAt(1), 3);
            report["round_overhead_ms"] = Math.Round(costs.RoundOverheadMs, 3);
            report["round_overhead_two_tokens_ms"] = Math.Round(costs.OverheadAt(2), 3);
            report["catch_up_ms_per_token"] = Math.Round(costs.CatchUpMsPerToken, 3);
            report["verify_cost_ratio"] = costs.Verify.Ratios().ToDictionary(p => p.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture), p => Math.Round(p.RatioToOne, 3));
        }
        return report;
    }

    // Decode throughput: tokens after the first over decode time (prefill excluded).
    private static double Throughput(List<GenerationResult> results) =>
        results.Sum(r => r.Stats.GeneratedTokens - 1) / (results.Sum(r => r.Stats.DecodeMs) / 1000.0);

    private static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;

    private static string Spread(Dictionary<string, object> r)
    {
        var s = (Dictionary<string, double>)r["speedup_per_prompt"];
        return $"median {s["median"]}, {s["min"]}–{s["max"]}";
    }

    public static void Print(Dictionary<string, object> r)
    {
        Console.WriteLine($"device {r["device"]} {r["dtype"]}, {r["threads"]} threads; {r["prompts"]} prompts of {r["prompt_tokens"]} tokens × {r["max_new_tokens"]} new, " +
                          $"temperature {r["temperature"]}, top-p {r["top_p"]}; tree {r["tree"]}");
        Console.WriteLine($"drafts steered to acceptance {r["acceptance"]} along the target's own path (a random EAGLE-3-shaped head runs for real)");
        if (r.TryGetValue("verify_cost_ratio", out var v))
            Console.WriteLine($"measured: one step {r["step_ms"]} ms, draft step {r["draft_step_ms"]} ms ({r["draft_step_one_node_ms"]} over a one-node beam), " +
                              $"round bookkeeping {r["round_overhead_ms"]} ms ({r["round_overhead_two_tokens_ms"]} for two tokens), head catch-up {r["catch_up_ms_per_token"]} ms a token; " +
                              $"verify cost (× one step) {string.Join("  ", ((Dictionary<string, double>)v).Select(p => $"{p.Key}:{p.Value:F2}"))}");
        Console.WriteLine($"{"",-14}{"tokens/s",10}{"prefill ms",12}");
        Console.WriteLine($"{"vanilla",-14}{r["vanilla_tokens_per_s"],10}{r["vanilla_prefill_ms"],12}");
        Console.WriteLine($"{"speculative",-14}{r["speculative_tokens_per_s"],10}{r["speculative_prefill_ms"],12}   " +
                          $"speedup {r["speedup"]}× (per prompt {Spread(r)}), τ {r["mean_acceptance_length"]}, drafted {(double)r["drafted_round_share"]:P0} of rounds, " +
                          $"tree sizes {string.Join(" ", ((Dictionary<string, int>)r["tree_sizes"]).Select(p => $"{p.Key}:{p.Value}"))}, same output {(double)r["identical_to_vanilla"]:P0}");
        Console.WriteLine($"a round: drafting {r["draft_ms_per_drafted_round"]} ms (per drafted round), verify and commit {r["verify_ms_per_round"]} ms; " +
                          $"a vanilla token {r["vanilla_ms_per_token"]} ms");
    }
}
