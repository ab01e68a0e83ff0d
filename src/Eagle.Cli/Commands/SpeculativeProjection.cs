using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;

namespace Eagle.Cli.Commands;

/// <summary>
/// Step costs of one speculative round measured on the device with an EAGLE-3-shaped random head (random weights
/// accept nothing, so throughput is projected from the costs, not measured): a draft round, the 60-token verify, and
/// the bookkeeping between them (tree mask, acceptance, KV compaction).
/// </summary>
internal static class SpeculativeProjection
{
    public static readonly double[] Taus = [4.0, 5.0, 6.13];

    public static Dictionary<string, object> Measure(LlamaForCausalLM target, double decodeMs)
    {
        var tree = TreeSettings.Default;
        using var head = Eagle3Head.CreateRandom(target, seed: 1, draftVocabSize: Math.Min(32000, target.Config.VocabSize)); // the released 8B head drafts over 32k tokens
        using var drafter = new EagleDrafter(head, tree, ownsHead: false);
        var costs = SpeculationCosts.Measure(target, drafter);
        var full = new TreeBudget(tree.TotalTokens, tree.Depth);
        double draftMs = costs.DraftStepMs * (tree.Depth + 1), verifyMs = costs.Verify.Milliseconds(tree.TotalTokens);
        double roundMs = costs.RoundMs(full);
        return new Dictionary<string, object>
        {
            ["tree_tokens"] = tree.TotalTokens,
            ["verify_cost_ratio"] = costs.Verify.Ratios().ToDictionary(p => p.Tokens.ToString(), p => Math.Round(p.RatioToOne, 3)),
            ["draft_round_ms"] = Math.Round(draftMs, 3),
            ["draft_step_ratio"] = Math.Round(costs.DraftStepMs / costs.StepMs, 4),
            ["verify_ms"] = Math.Round(verifyMs, 3),
            ["bookkeeping_ms"] = Math.Round(costs.RoundOverheadMs, 3),
            ["round_ms"] = Math.Round(roundMs, 3),
            ["projected_tokens_per_second"] = Taus.ToDictionary(t => t.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), t => Math.Round(t / roundMs * 1000, 1)),
            ["projected_speedup"] = Taus.ToDictionary(t => t.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), t => Math.Round(t / roundMs * decodeMs, 2)),
        };
    }

    public static void Print(Dictionary<string, object> p)
    {
        var ratios = (Dictionary<string, double>)p["verify_cost_ratio"];
        Console.WriteLine($"verify cost (× one-token forward): {string.Join("  ", ratios.Select(x => $"{x.Key}:{x.Value:F2}"))}");
        Console.WriteLine($"EAGLE-3-shaped head, {p["tree_tokens"]}-token tree: draft round {p["draft_round_ms"]} ms " +
                          $"(one draft step = {(double)p["draft_step_ratio"]:P1} of a target step), verify {p["verify_ms"]} ms, bookkeeping {p["bookkeeping_ms"]} ms");
        var tps = (Dictionary<string, double>)p["projected_tokens_per_second"];
        var speedup = (Dictionary<string, double>)p["projected_speedup"];
        Console.WriteLine("PROJECTION from measured step costs (random weights accept nothing): " +
                          string.Join(", ", tps.Select(x => $"τ {x.Key} → {x.Value} tokens/s ({speedup[x.Key]:F2}× vanilla)")));
    }
}
