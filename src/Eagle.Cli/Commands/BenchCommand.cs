using Eagle.AI.Engine.Constraints;
using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>eagle bench</c>: decode speed measured side by side with the memory-bandwidth floor of the same machine (a decode
/// step must read every weight once, so weight bytes ÷ read bandwidth is the fastest a step can be).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "model folder (or use --shape)" };
        var shape = new Option<string?>("--shape") { Description = $"random model built in memory: {string.Join(", ", LlamaPresets.Names)}" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens to decode per run", DefaultValueFactory = _ => 32 };
        var runs = new Option<int>("--runs") { Description = "timed runs (after one warm-up); with --concurrency, rounds over every level and mode, each row their median", DefaultValueFactory = _ => 3 };
        var threads = new Option<int?>("--threads") { Description = "intra-op CPU threads (default: libtorch's choice)" };
        var questions = new Option<string?>("--questions") { Description = "MT-bench-style question.jsonl (first turn of each question); with --draft" };
        var tokenizerFolder = new Option<string?>("--tokenizer") { Description = "folder with a LLaMA-3 tokenizer.json that renders --questions when the model has none (e.g. with --shape)" };
        var limit = new Option<int>("--limit") { Description = "prompts to run (with --draft or --acceptance)", DefaultValueFactory = _ => 8 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy (with --draft)", DefaultValueFactory = _ => 0f };
        var projection = new Option<bool>("--eagle3-projection") { Description = "also measure a speculative round's step costs with an EAGLE-3-shaped random head and project tokens/s for τ = 4, 5, 6.13" };
        var acceptance = new Option<double?>("--acceptance") { Description = "speculative vs vanilla with an EAGLE-3-shaped random head whose drafts are steered to this acceptance rate (0..1) along the target's own path" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "prompt length (with --acceptance)", DefaultValueFactory = _ => 16 };
        var topP = new Option<float>("--top-p") { Description = "nucleus sampling (with --draft or --acceptance; with --temperature > 0)", DefaultValueFactory = _ => 1f };
        var concurrency = new Option<string?>("--concurrency") { Description = "comma-separated numbers of requests started together and decoded as one batch (e.g. 1,4,8,16): aggregate and per-request tokens/s, TTFT, vanilla and speculative (--draft, else a random EAGLE-3-shaped head) side by side" };
        var multiTurn = new Option<bool>("--multi-turn") { Description = "two-turn conversations (--questions' turns, rendered by the model's tokenizer or --tokenizer; else random ids; a --shape model's answer goes back as its ids, a real model's as text): time to first token of turn 2 with and without reusing turn 1's KV, and the cached share; vanilla and speculative (--draft, else a random EAGLE-3-shaped head)" };
        var totalTokens = new Option<string>("--total-tokens") { Description = "with --draft: comma-separated tree sizes to compare, each a number or auto; with --acceptance: one size or auto", DefaultValueFactory = _ => "auto" };
        var json = Cli.JsonOutput();
        var responseFormat = ResponseFormatOption.Create();
        var shared = new ModelOptions();
        var cmd = new Command("bench", "Measure decode tokens/s against the memory-bandwidth floor; with --draft, speculative vs vanilla side by side")
        {
            model, shape, maxNew, runs, threads, questions, tokenizerFolder, limit, temperature, topP, totalTokens, projection, acceptance, promptTokens, concurrency, multiTurn, responseFormat, json,
        };
        shared.AddTo(cmd, withTreeSizes: false);
        cmd.SetAction(r => Cli.Run(() =>
        {
            var plan = shared.Plan(r);
            int timedRuns = Runs(r.GetValue(runs));                                     // checked before a model is built
            if (r.GetValue(threads) is { } t) set_num_threads(t);
            using var target = r.GetValue(model) is { } folder ? LlamaCheckpoint.Load(folder, plan, Cli.LoadProgress("model"))
                : r.GetValue(shape) is { } s ? LlamaFactory.CreateRandom(LlamaPresets.Get(s), 1, plan.DType, plan.Device)
                : throw new ArgumentException("give --model <dir> or --shape <name>");
            string? textFolder = r.GetValue(model) ?? r.GetValue(tokenizerFolder);      // where --questions finds its tokenizer
            Dictionary<string, object> report;
            if (r.GetValue(multiTurn))
            {
                var conversations = MultiTurnBench.Conversations(textFolder, r.GetValue(questions), r.GetValue(limit), r.GetValue(promptTokens), target.Config.VocabSize,
                    answerIds: r.GetValue(model) is null);
                if (conversations.Count == 0) throw new ArgumentException("--multi-turn: no conversations (check --questions and --limit)");
                var options = new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNew), Sampling = new SamplingOptions { Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), Seed = 1 },
                    // A random --shape model's end-of-text is chance: its answers run to --max-new-tokens, like a real answer's length.
                    StopTokenIds = r.GetValue(model) is null ? [] : null,
                };
                options.Validate();
                var tree = shared.TreeSettings(r, r.GetValue(totalTokens)!);
                using var drafter = r.GetValue(shared.Draft) is { } dir ? EagleDrafter.Load(dir, target, tree)
                    : new EagleDrafter(Eagle3Head.CreateRandom(target, seed: 1, draftVocabSize: Math.Min(32000, target.Config.VocabSize)), tree);
                var costs = tree.Adaptive ? SpeculationCosts.Measure(target, drafter) : null;
                report = MultiTurnBench.Run(target, drafter, costs, conversations, options, r.GetValue(shared.ContextLimit));
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Cli.Json));
                else MultiTurnBench.Print(report);
                return 0;
            }
            if (r.GetValue(concurrency) is { } levelList)
            {
                int threadCount = get_num_threads();
                int[] levels = [.. levelList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(l =>
                    int.TryParse(l, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 256 ? n
                        : throw new ArgumentException($"--concurrency: '{l}' is not a number of requests in [1, 256]"))];
                if (levels.Length == 0) throw new ArgumentException("--concurrency needs at least one level, e.g. 1,4,8");
                var prompts = r.GetValue(questions) is null
                    ? RandomPrompts(target.Config.VocabSize, r.GetValue(promptTokens), Math.Max(levels.Max(), 1))
                    : SpeculativeBench.Prompts(textFolder, r.GetValue(questions), Math.Max(levels.Max(), r.GetValue(limit)), target.Config.VocabSize);
                var options = new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNew), StopTokenIds = [],
                    Sampling = new SamplingOptions { Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), Seed = 1 },
                };
                options.Validate();
                var tree = shared.TreeSettings(r, r.GetValue(totalTokens)!);
                using var drafter = r.GetValue(shared.Draft) is { } dir ? EagleDrafter.Load(dir, target, tree)
                    : new EagleDrafter(Eagle3Head.CreateRandom(target, seed: 1, draftVocabSize: Math.Min(32000, target.Config.VocabSize)), tree);
                var costs = tree.Adaptive ? SpeculationCosts.Measure(target, drafter) : null;
                report = ConcurrencyBench.Run(target, levels, prompts, options, drafter, costs, r.GetValue(shared.ContextLimit), threadCount, timedRuns);
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Cli.Json));
                else ConcurrencyBench.Print(report);
                return 0;
            }
            if (r.GetValue(shared.Draft) is { } draft)
            {
                var prompts = SpeculativeBench.Prompts(textFolder, r.GetValue(questions), r.GetValue(limit), target.Config.VocabSize);
                var options = new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNew), Sampling = new SamplingOptions { Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), Seed = 1 },
                };
                report = SpeculativeBench.Run(target, prompts, options, r.GetValue(totalTokens)!.Split(',', StringSplitOptions.TrimEntries),
                    total => EagleDrafter.Load(draft, target, shared.TreeSettings(r, total)), r.GetValue(shared.ContextLimit));
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Cli.Json));
                else SpeculativeBench.Print(report);
                return 0;
            }
            if (r.GetValue(acceptance) is { } rate)
            {
                if (rate is < 0 or > 1) throw new ArgumentException($"--acceptance must be in [0, 1], got {rate}");
                if (r.GetValue(promptTokens) < 1) throw new ArgumentException($"--prompt-tokens must be at least 1, got {r.GetValue(promptTokens)}");
                var options = new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNew),
                    Sampling = new SamplingOptions { Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), Seed = 1 },
                };
                options.Validate();
                report = AcceptanceBench.Run(target, rate, r.GetValue(promptTokens), r.GetValue(limit), options,
                    shared.TreeSettings(r, r.GetValue(totalTokens)!), r.GetValue(shared.ContextLimit));
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Cli.Json));
                else AcceptanceBench.Print(report);
                return 0;
            }
            var constraint = ResponseFormatOption.Parse(r.GetValue(responseFormat), textFolder is null ? null : ModelOptions.TryTokenizer(textFolder));
            report = Run(target, r.GetValue(maxNew), timedRuns, constraint);
            if (r.GetValue(projection))
                report["speculative_projection"] = SpeculativeProjection.Measure(target, (double)report["decode_ms_per_token"]);
            if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Cli.Json));
            else
            {
                Print(report);
                if (report.TryGetValue("speculative_projection", out var p)) SpeculativeProjection.Print((Dictionary<string, object>)p);
            }
            return 0;
        }));
        return cmd;
    }

    private static int Runs(int runs) => runs >= 1 ? runs : throw new ArgumentException($"--runs must be at least 1, got {runs}");

    private static List<int[]> RandomPrompts(int vocab, int length, int count)
    {
        if (length < 1) throw new ArgumentException($"--prompt-tokens must be at least 1, got {length}");
        var random = new Random(7);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray())];
    }

    private static Dictionary<string, object> Run(LlamaForCausalLM target, int maxNew, int runs, OutputConstraint? constraint)
    {
        var c = target.Config;
        // Bytes one decode step reads: every weight, except an untied embedding table of which one row is read.
        long embedBytes = target.model.embed_tokens.weight.NumberOfElements * target.model.embed_tokens.weight.ElementSize;
        long bytesPerToken = target.WeightBytes - (c.TieWordEmbeddings ? 0 : embedBytes);
        int threads = get_num_threads(); // before decoding: the CPU kernels lower libtorch's own count while they run
        var (bandwidth, method) = ReadBandwidth.Measure(target.Device, threads);
        double copyBandwidth = CopyBandwidth(target.Device);
        double floorMs = bytesPerToken / bandwidth * 1000;

        var random = new Random(5);
        int[] prompt = Enumerable.Range(0, 16).Select(_ => random.Next(c.VocabSize)).ToArray();
        var gen = new VanillaGenerator(target);
        var options = new GenerationOptions { MaxNewTokens = maxNew, StopTokenIds = [] };
        gen.Generate(prompt, options with { MaxNewTokens = 4 }); // warm-up
        var stats = Enumerable.Range(0, runs).Select(_ => gen.Generate(prompt, options).Stats).ToList();
        double msPerToken = stats.Min(s => s.DecodeMs / (s.GeneratedTokens - 1));
        var (layerMs, headMs) = Breakdown(target);
        var report = new Dictionary<string, object>
        {
            ["device"] = target.Device.ToString(),
            ["dtype"] = TorchRuntime.Name(target.DType),
            ["threads"] = threads,
            ["parameters"] = target.ParameterCount,
            ["bytes_per_token"] = bytesPerToken,
            ["read_bandwidth_gb_s"] = Math.Round(bandwidth / 1e9, 2),
            ["read_bandwidth_method"] = method,
            ["copy_bandwidth_gb_s"] = Math.Round(copyBandwidth / 1e9, 2),
            ["floor_ms_per_token"] = Math.Round(floorMs, 2),
            ["floor_tokens_per_second"] = Math.Round(1000 / floorMs, 2),
            ["decode_ms_per_token"] = Math.Round(msPerToken, 2),
            ["decode_tokens_per_second"] = Math.Round(1000 / msPerToken, 2),
            ["fraction_of_floor"] = Math.Round(floorMs / msPerToken, 3),
            ["prefill_ms"] = Math.Round(stats.Min(s => s.PrefillMs), 2),
            ["layer_ms"] = Math.Round(layerMs, 3),
            ["layers_ms"] = Math.Round(layerMs * c.NumHiddenLayers, 2),
            ["lm_head_ms"] = Math.Round(headMs, 2),
        };
        if (target.Device.type == DeviceType.CUDA) report["cudnn_attention"] = CudnnAttention.Disable();
        if (constraint is not null)
        {
            // The same decode under the output constraint: its step time, and the share the token masks take.
            var constrained = Enumerable.Range(0, runs).Select(_ => gen.Generate(prompt, options with { Constraint = constraint, StopTokenIds = null }).Stats).ToList();
            var (mean, p99) = ResponseFormatOption.MaskTimes(constrained);
            report["constrained_decode_ms_per_token"] = Math.Round(constrained.Average(s => s.DecodeMs / Math.Max(1, s.GeneratedTokens - 1)), 2);
            report["mask_ms_per_token_mean"] = Math.Round(mean, 3);
            report["mask_ms_per_token_p99"] = Math.Round(p99, 3);
            // What the same mask costs beside an 8B step on a GPU (assumed: the bandwidth floor of an H200), and that it
            // is not overlapped with the forward, so the share adds to the step.
            report["mask_overlapped_with_forward"] = false;
            report["projected_8b_gpu_step_ms"] = Math.Round(ResponseFormatOption.Projected8BStepMs, 2);
            report["projected_8b_gpu_mask_share"] = Math.Round(mean / ResponseFormatOption.Projected8BStepMs, 4);
        }
        return report;
    }

    // Best-of-5 device-to-device copy of a 256 MiB buffer; bandwidth counts the bytes read plus the bytes written. Shown
    // for comparison only: the floor uses the read bandwidth (a copy's writes and a cache-sized buffer mislead).
    private static double CopyBandwidth(Device device)
    {
        using var src = ones(64L << 20, ScalarType.Float32, device);
        using var dst = empty_like(src);
        double seconds = DeviceClock.Best(device, 5, () => dst.copy_(src)) / 1000;
        return 2.0 * src.NumberOfElements * src.ElementSize / seconds;
    }

    // Where a step's time goes: one decoder layer on one token, and the lm_head GEMV, each the best of 10.
    private static (double LayerMs, double HeadMs) Breakdown(LlamaForCausalLM target)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var c = target.Config;
        using var cache = target.NewCache(64);
        var x = randn([1, 1, c.HiddenSize], target.DType, target.Device);
        using var rope = new RotaryEmbedding(c.HeadDim, c.RopeTheta, c.RopeScaling, target.Device);
        var (cos, sin) = rope.Tables(zeros([1], ScalarType.Int64, target.Device), target.DType);
        double layer = DeviceClock.Best(target.Device, 10, () =>
        {
            using var y = target.model.layers[0].forward(x, cos, sin, null, cache);
        });
        var h = x.squeeze(0);
        double head = DeviceClock.Best(target.Device, 10, () =>
        {
            using var y = target.LmHead(h);
        });
        return (layer, head);
    }

    private static void Print(Dictionary<string, object> r)
    {
        Console.WriteLine($"device {r["device"]} {r["dtype"]}, {r["threads"]} threads, {r["parameters"]:N0} parameters, {(long)r["bytes_per_token"] / 1e9:F2} GB read per token" +
                          (r.TryGetValue("cudnn_attention", out var cudnn) ? $", cuDNN attention {cudnn}" : ""));
        Console.WriteLine($"{"",-22}{"ms/token",10}{"tokens/s",10}");
        Console.WriteLine($"{"bandwidth floor",-22}{r["floor_ms_per_token"],10}{r["floor_tokens_per_second"],10}   (read {r["read_bandwidth_gb_s"]} GB/s; copy {r["copy_bandwidth_gb_s"]} GB/s)");
        Console.WriteLine($"{"vanilla decode",-22}{r["decode_ms_per_token"],10}{r["decode_tokens_per_second"],10}   ({(double)r["fraction_of_floor"]:P1} of the floor)");
        Console.WriteLine($"read bandwidth: {r["read_bandwidth_method"]}");
        double other = Math.Max(0, (double)r["decode_ms_per_token"] - (double)r["layers_ms"] - (double)r["lm_head_ms"]);
        Console.WriteLine($"where a step goes: layers {r["layers_ms"]} ms ({r["layer_ms"]} each), lm_head {r["lm_head_ms"]} ms, other {other:F2} ms");
        Console.WriteLine("  (layers: one decoder layer on one token, timed alone, × the layer count; lm_head: the vocabulary product;" +
                          " other: the rest of a decode step — embedding, final norm, sampling, the host read of the token)");
        if (r.TryGetValue("mask_ms_per_token_mean", out var mask))
        {
            Console.WriteLine($"constrained decode {r["constrained_decode_ms_per_token"]} ms/token; token mask {mask} ms/token mean, {r["mask_ms_per_token_p99"]} p99");
            Console.WriteLine(ResponseFormatOption.ProjectionLine((double)mask));
        }
    }
}
