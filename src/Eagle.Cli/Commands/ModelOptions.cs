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
    public Option<string> TotalTokens { get; } = new("--total-tokens") { Description = "tokens verified per round incl. the root, or auto (measured at load)", DefaultValueFactory = _ => "60" };
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

    public (TorchSharp.torch.Device Device, TorchSharp.torch.ScalarType DType) Placement(ParseResult r)
    {
        TorchRuntime.EnsureInitialized();
        var device = TorchRuntime.ParseDevice(r.GetValue(Device)!);
        return (device, TorchRuntime.ParseDType(r.GetValue(DType)!, device));
    }

    /// <summary>Tree settings from the options; <c>auto</c> measures the target's verify-cost curve and picks a size.</summary>
    public TreeSettings TreeSettings(ParseResult r, LlamaForCausalLM target, string totalTokens)
    {
        if (r.GetValue(Tree) == "static") return Eagle.AI.Engine.Drafting.TreeSettings.Static();
        int total;
        if (totalTokens == "auto")
        {
            var curve = VerifyCostCurve.Measure(target);
            total = curve.Choose();
            Console.Error.WriteLine($"--total-tokens auto: verify cost {string.Join(", ", curve.Ratios().Select(p => $"{p.Tokens}:{p.RatioToOne:F2}×"))} → {total}");
        }
        else if (!int.TryParse(totalTokens, out total))
            throw new ArgumentException($"--total-tokens: expected a number or auto, got '{totalTokens}'");
        var settings = new TreeSettings { TotalTokens = total, Depth = r.GetValue(Depth), TopK = r.GetValue(TreeTopK) };
        settings.Validate();
        return settings;
    }

    public static Llama3Tokenizer? TryTokenizer(string modelFolder) =>
        Llama3Tokenizer.TryFind(modelFolder) is { } path ? Llama3Tokenizer.Load(path) : null;
}
