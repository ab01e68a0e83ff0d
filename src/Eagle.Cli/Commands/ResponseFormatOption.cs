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

    /// <summary>Mean and 99th percentile of the per-step mask times, in ms (0, 0 when none).</summary>
    public static (double Mean, double P99) MaskTimes(IEnumerable<GenerationStats> stats)
    {
        var all = stats.SelectMany(s => s.MaskStepMs).Order().ToArray();
        return all.Length == 0 ? (0, 0) : (all.Average(), all[Math.Min(all.Length - 1, (int)Math.Ceiling(0.99 * all.Length) - 1)]);
    }
}
