using System.Diagnostics;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

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
        var curve = VerifyCostCurve.Measure(target);
        var tree = TreeSettings.Default;
        using var head = Eagle3Head.CreateRandom(target, seed: 1, draftVocabSize: Math.Min(32000, target.Config.VocabSize)); // the released 8B head drafts over 32k tokens
        using var drafter = new EagleDrafter(head, tree, ownsHead: false);
        using var noGrad = no_grad();
        var device = target.Device;
        const int prefix = 64;
        var random = new Random(3);
        int[] prompt = Enumerable.Range(0, prefix).Select(_ => random.Next(target.Config.VocabSize)).ToArray();
        using var cache = target.NewCache(prefix + 2 * tree.TotalTokens);
        Tensor features;
        using (var scope = NewDisposeScope())
        {
            using var o = target.Forward(tensor(prompt.Select(t => (long)t).ToArray(), device: device), arange(0, prefix, ScalarType.Int64, device),
                cache, null, new ForwardRequest(CaptureLayers: head.Features.CaptureLayers));
            features = o.Captured!.clone().DetachFromDisposeScope();
        }
        var context = new DraftContext(false, new Random(1));

        // Draft: reset, consume the prompt's features, then time rounds that consume one new token each.
        drafter.Reset(prefix + 8 * tree.TotalTokens);
        int[] next = [.. prompt.Skip(1), 1];
        DraftTree last = drafter.Draft(features, next, context);
        using var one = features.narrow(0, prefix - 1, 1);
        double draftMs = Best(device, () => last = drafter.Draft(one, [2], context), 5);

        // Bookkeeping: everything a round does besides the draft and the verify forward itself.
        using var logits = randn([last.Count, target.Config.VocabSize], ScalarType.Float32, device);
        using var buffers = new TreeBuffers(drafter.MaxTreeTokens, cache.Capacity, device);
        double bookkeepingMs = Best(device, () =>
        {
            using var scope = NewDisposeScope();
            buffers.Load(last.OnDevice(device), prefix);
            var accepted = Acceptance.Greedy(last, logits);
            cache.Truncate(prefix);
            cache.Advance(last.Count);
            cache.Compact(prefix, accepted.DeviceNodes!.add(prefix));
            cache.Truncate(prefix);
        }, 10);
        features.Dispose();

        double verifyMs = curve.Milliseconds(last.Count);
        double roundMs = draftMs + verifyMs + bookkeepingMs;
        return new Dictionary<string, object>
        {
            ["tree_tokens"] = last.Count,
            ["verify_cost_ratio"] = curve.Ratios().ToDictionary(p => p.Tokens.ToString(), p => Math.Round(p.RatioToOne, 3)),
            ["draft_round_ms"] = Math.Round(draftMs, 3),
            ["draft_step_ratio"] = Math.Round(draftMs / (tree.Depth + 1) / curve.Milliseconds(1), 4),
            ["verify_ms"] = Math.Round(verifyMs, 3),
            ["bookkeeping_ms"] = Math.Round(bookkeepingMs, 3),
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

    private static double Best(Device device, Action action, int repeats)
    {
        double best = double.MaxValue;
        for (int i = 0; i <= repeats; i++)
        {
            if (device.type == DeviceType.CUDA) cuda.synchronize(device);
            var sw = Stopwatch.StartNew();
            action();
            if (device.type == DeviceType.CUDA) cuda.synchronize(device);
            if (i > 0) best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return best;
    }
}
