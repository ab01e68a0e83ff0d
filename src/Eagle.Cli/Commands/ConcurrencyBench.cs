using System.Diagnostics;
using System.Globalization;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>bench --concurrency 1,4,8,16</c>: N requests started together and decoded as one batch (the engine's continuous
/// batching: every step one forward for all active sessions; a session leaves when it ends), vanilla and speculative
/// side by side at each level. Reports aggregate and per-request tokens/s, time to first token (p50/p95) and the ratio
/// of aggregate throughput to concurrency 1; and the decode part alone (the tokens after each request's first, over the
/// time from the first first token to the last finish), since the N prompts' prefill is a compute-bound product that
/// batching cannot make cheaper per token, while a decode step reads the weights once for all N.
/// </summary>
internal static class ConcurrencyBench
{
    /// <param name="threads">libtorch's intra-op thread count before anything ran (the CPU kernels lower it while they run).</param>
    /// <param name="runs">Rounds over every level and mode (the modes' order alternating); each cell reports its median run.</param>
    public static Dictionary<string, object> Run(LlamaForCausalLM target, int[] levels, List<int[]> prompts, GenerationOptions options,
        IDrafter? drafter, SpeculationCosts? costs, int contextLimit, int threads, int runs = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var vanilla = new VanillaGenerator(target, contextLimit);
        var speculative = drafter is null ? null : new SpeculativeGenerator(target, drafter, contextLimit) { Costs = costs };
        var modes = new List<(string Name, Func<int[], Func<IReadOnlyList<int>, bool>, DecodingSession> Start)>
        {
            ("vanilla", (p, on) => vanilla.Start(p, options, on)),
        };
        if (speculative is not null) modes.Add(("speculative", (p, on) => speculative.Start(p, options, on)));

        foreach (var (_, start) in modes) Measure(start, [prompts[0]], options with { MaxNewTokens = 4 });   // warm-up
        // Rounds rather than one cell after another: on a shared machine whose speed drifts over minutes, each cell's
        // median then comes from the same windows as its neighbours', and so do the ratios between them.
        var measured = new Dictionary<(int Level, string Mode), List<Measurement>>();
        for (int round = 0; round < runs; round++)
            foreach (int n in levels)
                foreach (var (name, start) in round % 2 == 0 ? modes : Enumerable.Reverse(modes))
                {
                    var inputs = Enumerable.Range(0, n).Select(i => prompts[i % prompts.Count]).ToList();
                    var m = Measure(start, inputs, options);
                    if (!measured.TryGetValue((n, name), out var list)) measured[(n, name)] = list = [];
                    list.Add(m);
                }
        var rows = new List<Dictionary<string, object>>();
        foreach (int n in levels)
            foreach (var (name, _) in modes)
            {
                var all = measured[(n, name)];
                var m = MedianRun(all);
                var first = MedianRun(measured[(levels[0], name)]);
                rows.Add(new Dictionary<string, object>
                {
                    ["concurrency"] = n,
                    ["mode"] = name,
                    ["aggregate_tokens_per_s"] = Math.Round(m.Aggregate, 3),
                    ["aggregate_tokens_per_s_min"] = Math.Round(all.Min(x => x.Aggregate), 3),
                    ["aggregate_tokens_per_s_max"] = Math.Round(all.Max(x => x.Aggregate), 3),
                    ["per_request_tokens_per_s"] = Math.Round(m.PerRequest, 3),
                    ["ttft_ms_p50"] = Math.Round(Percentile(m.Ttft, 0.5), 1),
                    ["ttft_ms_p95"] = Math.Round(Percentile(m.Ttft, 0.95), 1),
                    ["ratio_to_first_level"] = Math.Round(m.Aggregate / first.Aggregate, 3),
                    ["decode_tokens_per_s"] = Math.Round(m.Decode, 3),
                    ["decode_ratio_to_first_level"] = first.Decode > 0 ? Math.Round(m.Decode / first.Decode, 3) : 0,   // one new token each: no decode part
                    ["mean_acceptance_length"] = Math.Round(m.Tau, 3),
                    ["drafted_rounds_share"] = Math.Round(m.DraftedShare, 3),
                    ["draft_ms"] = Math.Round(m.DraftMs, 1),
                });
            }
        return new Dictionary<string, object>
        {
            ["device"] = target.Device.ToString(),
            ["dtype"] = TorchRuntime.Name(target.DType),
            ["threads"] = threads,
            ["runs"] = runs,
            ["prompt_tokens"] = prompts.Select(p => p.Length).Max(),
            ["max_new_tokens"] = options.MaxNewTokens,
            ["temperature"] = options.Sampling.Temperature,
            ["levels"] = rows,
        };
    }

    // The run with the median aggregate throughput (the lower middle of an even count), reported whole so that its
    // figures belong together.
    private static Measurement MedianRun(List<Measurement> runs) => runs.OrderBy(m => m.Aggregate).ElementAt((runs.Count - 1) / 2);

    private sealed record Measurement(double Aggregate, double Decode, double PerRequest, double[] Ttft, double Tau, double DraftedShare, double DraftMs);

    // Starts one session per input at once and steps the unfinished ones together until all are done.
    private static Measurement Measure(Func<int[], Func<IReadOnlyList<int>, bool>, DecodingSession> start, List<int[]> inputs, GenerationOptions options)
    {
        var clock = Stopwatch.StartNew();
        var ttft = new double[inputs.Count];
        var finished = new double[inputs.Count];
        var sessions = inputs.Select((p, i) => start(p, _ =>
        {
            if (ttft[i] == 0) ttft[i] = clock.Elapsed.TotalMilliseconds;
            return true;
        })).ToList();
        var results = new GenerationResult[inputs.Count];
        try
        {
            var active = Enumerable.Range(0, sessions.Count).ToList();
            while (active.Count > 0)
            {
                DecodingSession.Step(active.Select(i => sessions[i]).ToArray());
                foreach (int i in active.Where(i => sessions[i].Done).ToList())
                {
                    results[i] = sessions[i].Result;
                    finished[i] = clock.Elapsed.TotalMilliseconds;
                    sessions[i].Dispose();
                    active.Remove(i);
                }
            }
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
        }
        double seconds = finished.Max() / 1000;
        int tokens = results.Sum(r => r.OutputIds.Count);
        double perRequest = results.Select((r, i) => r.OutputIds.Count / (finished[i] / 1000)).Average();
        int rounds = results.Sum(r => r.Stats.Rounds);
        double tau = results.Sum(r => r.Stats.GeneratedTokens - 1) / (double)Math.Max(1, rounds);
        double drafted = results.Sum(r => r.Stats.DraftedRounds) / (double)Math.Max(1, rounds);
        double decodeSeconds = seconds - ttft.Min() / 1000;                  // from the first first token to the last finish
        int decodeTokens = results.Sum(r => Math.Max(0, r.OutputIds.Count - 1));
        double decode = decodeTokens == 0 || decodeSeconds <= 0 ? 0 : decodeTokens / decodeSeconds;
        return new Measurement(tokens / seconds, decode, perRequest, ttft, tau, drafted, results.Average(r => r.Stats.DraftMs));
    }

    private static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];
    }

    public static void Print(Dictionary<string, object> r)
    {
        Console.WriteLine($"device {r["device"]} {r["dtype"]}, {r["threads"]} threads; prompts of {r["prompt_tokens"]} tokens × {r["max_new_tokens"]} new, " +
                          $"temperature {r["temperature"]}; N requests started together, decoded as one batch; each row the median of {r["runs"]} " +
                          "runs taken in rounds over all rows (aggregate range in brackets); decode: the tokens after each first, from the first first token on");
        Console.WriteLine($"{"N",4} {"mode",-12}{"aggregate tok/s",17}{"range",22}{"per request",13}{"TTFT p50 ms",13}{"TTFT p95 ms",13}{"× N=first",11}{"decode tok/s",14}{"× N=first",11}{"τ",7}{"drafted",9}{"draft ms",10}");
        foreach (var row in (List<Dictionary<string, object>>)r["levels"])
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{row["concurrency"],4} {row["mode"],-12}{row["aggregate_tokens_per_s"],17}{$"[{row["aggregate_tokens_per_s_min"]}, {row["aggregate_tokens_per_s_max"]}]",22}{row["per_request_tokens_per_s"],13}{row["ttft_ms_p50"],13}{row["ttft_ms_p95"],13}{row["ratio_to_first_level"],11}{row["decode_tokens_per_s"],14}{row["decode_ratio_to_first_level"],11}{row["mean_acceptance_length"],7}{row["drafted_rounds_share"],9:P0}{row["draft_ms"],10}"));
    }
}
