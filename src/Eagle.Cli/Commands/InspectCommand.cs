using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary><c>eagle inspect &lt;model-dir&gt;</c>: what a checkpoint holds, read from headers only (no weights loaded).</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("model-dir") { Description = "a Hugging Face model folder" };
        var json = Cli.JsonOutput();
        var cmd = new Command("inspect", "Summarise a model folder: config, parameters, dtypes, shards, bytes") { dir, json };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchRuntime.EnsureInitialized();
            string folder = r.GetValue(dir)!;
            var config = LlamaConfig.Load(folder);
            using var source = Checkpoint.Open(folder);
            var tensors = source.Tensors.Values.ToList();
            long parameters = tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
            long bytes = tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b) * ElementSize(t.DType));
            var dtypes = tensors.GroupBy(t => t.DType).ToDictionary(g => g.Key, g => g.Count());
            var files = tensors.Select(t => Path.GetFileName(t.File)).Distinct().Order(StringComparer.Ordinal).ToArray();
            var summary = new
            {
                path = Path.GetFullPath(folder),
                hidden_size = config.HiddenSize,
                intermediate_size = config.IntermediateSize,
                num_hidden_layers = config.NumHiddenLayers,
                num_attention_heads = config.NumAttentionHeads,
                num_key_value_heads = config.NumKeyValueHeads,
                head_dim = config.HeadDim,
                vocab_size = config.VocabSize,
                tie_word_embeddings = config.TieWordEmbeddings,
                rope_theta = config.RopeTheta,
                rope_scaling = config.RopeScaling?.Kind ?? "default",
                eos_token_ids = config.EosTokenIds,
                tensors = tensors.Count,
                parameters,
                bytes,
                dtypes,
                files,
            };
            if (r.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(summary, Cli.Json));
            else
            {
                Console.WriteLine($"model        {summary.path}");
                Console.WriteLine($"layers       {config.NumHiddenLayers} × hidden {config.HiddenSize}, mlp {config.IntermediateSize}");
                Console.WriteLine($"attention    {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} kv heads × {config.HeadDim}");
                Console.WriteLine($"vocabulary   {config.VocabSize} (tied embeddings: {config.TieWordEmbeddings})");
                Console.WriteLine($"rope         theta {config.RopeTheta}, scaling {summary.rope_scaling}");
                Console.WriteLine($"eos ids      {string.Join(", ", config.EosTokenIds)}");
                Console.WriteLine($"parameters   {parameters:N0} in {tensors.Count} tensors");
                Console.WriteLine($"dtypes       {string.Join(", ", dtypes.Select(d => $"{d.Key}×{d.Value}"))}");
                Console.WriteLine($"files        {string.Join(", ", files)} ({bytes / 1e6:F1} MB of weights)");
            }
            return 0;
        }));
        return cmd;
    }

    private static long ElementSize(string dtype) => dtype switch { "F32" => 4, "F16" or "BF16" => 2, "F64" or "I64" => 8, _ => 4 };
}
