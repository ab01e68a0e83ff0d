using System.CommandLine;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary>The options that load a target, an optional EAGLE head and the tokenizer, shared by generate and bench.</summary>
internal sealed class ModelOptions
{
    public Option<string> Device { get; } = Cli.Device();
    public Option<string> DType { get; } = Cli.DType();
    public Option<string?> Draft { get; } = new("--draft") { Description = "EAGLE draft head folder (speculative decoding)" };
    public Option<string> Tree { get; } = new("--tree") { Description = "dynamic (EAGLE-2/3) or static (EAGLE-1 mc_sim_7b_63)", DefaultValueFactory = _ => "dynamic" };
    public Option<string> TotalTokens { get; } = new("--total-tokens") { Description = "tokens verified per round incl. the root, or auto: adaptive, up to 60 (and --depth), each round sized from costs measured at load and the acceptance so far", DefaultValueFactory = _ => "auto" };
    public Option<int> Depth { get; } = new("--depth") { Description = "draft tree depth", DefaultValueFactory = _ => 7 };
    public Option<int> TreeTopK { get; } = new("--tree-top-k") { Description = "children per expanded node", DefaultValueFactory = _ => 10 };
    public Option<int> ContextLimit { get; } = new("--context-limit") { Description = "KV positions per request", DefaultValueFactory = _ => ContextBudget.DefaultContextLimit };

    public Option<string?> LayerPlacement { get; } = new("--layer-placement") { Description = "split the target's layers over devices, e.g. cuda:0=0-15;cuda:1=16-31 (the first device must be --device)" };

    public Option<string?> DraftDevice { get; } = new("--draft-device") { Description = "run the draft head on another device (default: the target's)" };

    public ModelOptions() => Tree.AcceptOnlyFromAmong("dynamic", "static");

    public void AddTo(Command command, bool withTreeSizes = true)
    {
        foreach (var o in new Option[] { Device, DType, LayerPlacement, Draft, DraftDevice, Tree, Depth, TreeTopK, ContextLimit }) command.Options.Add(o);
        if (withTreeSizes) command.Options.Add(TotalTokens);
    }

    /// <summary>--device, --dtype, --layer-placement and --draft-device resolved once (the choice of auto and a slow dtype noted on stderr).</summary>
    public LoadPlan Plan(ParseResult r)
    {
        LoadPlan plan;
        try
        {
            plan = LoadPlan.Resolve(r.GetValue(Device)!, r.GetValue(DType)!, r.GetValue(LayerPlacement), r.GetValue(DraftDevice));
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--layer-placement: {e.Message}", e);
        }
        if (plan.AutoDType) Console.Error.WriteLine($"--dtype auto: {TorchRuntime.AutoDTypeReason(plan.Device)}");
        if (plan.EmulatedFloat16) Console.Error.WriteLine("warning: float16 on a CPU is emulated and slower than float32 or bfloat16");
        return plan;
    }

    /// <summary>
    /// Tree settings from the options. <c>auto</c> makes the tree adaptive: --total-tokens (60) and --depth become upper
    /// bounds and <see cref="SpeculationPolicy"/> picks each round's size (or none) from costs measured at load.
    /// </summary>
    public TreeSettings TreeSettings(ParseResult r, string totalTokens)
    {
        bool adaptive = totalTokens == "auto";
        if (r.GetValue(Tree) == "static") return Eagle.AI.Engine.Drafting.TreeSettings.Static() with { Adaptive = adaptive };
        int total = Eagle.AI.Engine.Drafting.TreeSettings.Default.TotalTokens;
        if (!adaptive && !int.TryParse(totalTokens, out total))
            throw new ArgumentException($"--total-tokens: expected a number or auto, got '{totalTokens}'");
        var settings = new TreeSettings { TotalTokens = total, Depth = r.GetValue(Depth), TopK = r.GetValue(TreeTopK), Adaptive = adaptive };
        settings.Validate();
        return settings;
    }

    /// <summary>The costs an adaptive tree needs, measured now (and printed to stderr); null for a fixed tree.</summary>
    public static SpeculationCosts? MeasureCosts(LlamaForCausalLM target, EagleDrafter drafter)
    {
        if (!drafter.Tree.Adaptive) return null;
        var costs = SpeculationCosts.Measure(target, drafter);
        Console.Error.WriteLine($"adaptive tree: step {costs.StepMs:F2} ms, draft step {costs.DraftStepMs:F2} ms ({costs.DraftStepAt(1):F2} over a one-node beam), " +
                                $"bookkeeping {costs.RoundOverheadMs:F2} ms ({costs.OverheadAt(2):F2} for two tokens), the head's catch-up {costs.CatchUpMsPerToken:F3} ms a token; " +
                                $"verify cost (× one-token forward) {string.Join(", ", costs.Verify.Ratios().Select(p => $"{p.Tokens}:{p.RatioToOne:F2}"))}");
        return costs;
    }

    public static Llama3Tokenizer? TryTokenizer(string modelFolder) =>
        Llama3Tokenizer.TryFind(modelFolder) is { } path ? Llama3Tokenizer.Load(path) : null;
}
