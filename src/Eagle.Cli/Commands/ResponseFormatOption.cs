using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary><c>--response-format json|&lt;schema.json&gt;</c>: constrained decoding to a JSON object or a JSON Schema.</summary>
internal static class ResponseFormatOption
{
    public static Option<string?> Create() => new("--response-format")
    {
        Description = "constrain the output: json (one JSON object) or a JSON Schema file (needs the model's tokenizer)",
    };

    /// <summary>The constraint <paramref name="value"/> asks for, over <paramref name="tokenizer"/>'s vocabulary; null when none.</summary>
    public static OutputConstraint? Parse(string? value, Llama3Tokenizer? tokenizer)
    {
        if (value is null) return null;
        if (tokenizer is null) throw new ArgumentException("--response-format needs a tokenizer (in the model folder, or --tokenizer)");
        JsonGrammar grammar;
        if (value == "json") grammar = JsonGrammar.AnyObject;
        else if (!File.Exists(value)) throw new FileNotFoundException($"--response-format: '{value}' is neither 'json' nor a schema file", value);
        else
        {
            using var schema = JsonDocument.Parse(File.ReadAllText(value));
            grammar = JsonGrammar.FromSchema(schema.RootElement);
        }
        return new OutputConstraint(grammar, TokenTrie.For(tokenizer));
    }

    /// <summary>Bytes of weights a Llama-3.1-8B fp16 decode step reads (8.03 B parameters × 2 bytes).</summary>
    public const double Llama8BWeightBytes = 16.06e9;

    /// <summary>An H200's HBM3e bandwidth, bytes per second (4.8 TB/s).</summary>
    public const double H200Bandwidth = 4.8e12;

    /// <summary>The bandwidth floor of a Llama-3.1-8B fp16 step on an H200, in ms: the step time the projection assumes.</summary>
    public static double Projected8BStepMs => Llama8BWeightBytes / H200Bandwidth * 1e3;

    /// <summary>
    /// The line that projects a mean mask time onto an 8B step on a GPU. The mask is computed on the host between the
    /// forward's logits and the sampler, not overlapped with the forward, so it adds to the step.
    /// </summary>
    public static string ProjectionLine(double maskMs) =>
        $"projected on a GPU: Llama-3.1-8B fp16 on an H200 reads {Llama8BWeightBytes / 1e9:F2} GB of weights a step at ~{H200Bandwidth / 1e12:F1} TB/s, " +
        $"so a step takes at least {Projected8BStepMs:F2} ms (bandwidth floor, assumed); the token mask (computed on the host, not overlapped " +
        $"with the forward) adds {maskMs:F3} ms = {maskMs / Projected8BStepMs:P1} of that step";

    /// <summary>Mean and 99th percentile of the per-step mask times, in ms (0, 0 when none).</summary>
    public static (double Mean, double P99) MaskTimes(IEnumerable<GenerationStats> stats)
    {
        var all = stats.SelectMany(s => s.MaskStepMs).Order().ToArray();
        return all.Length == 0 ? (0, 0) : (all.Average(), all[Math.Min(all.Length - 1, (int)Math.Ceiling(0.99 * all.Length) - 1)]);
    }
}
