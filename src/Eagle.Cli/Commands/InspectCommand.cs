using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>eagle inspect &lt;dir&gt;</c>: what a model or EAGLE draft-head folder holds, read from headers only (no weights
/// loaded). A folder whose tensors have EAGLE's <c>fc</c> is described as a draft head.
/// </summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("model-dir") { Description = "a Hugging Face model folder, or an EAGLE draft-head folder" };
        var json = Cli.JsonOutput();
        var cmd = new Command("inspect", "Summarise a model or draft-head folder: config, parameters, dtypes, shards, bytes") { dir, json };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchRuntime.EnsureInitialized();
            string folder = r.GetValue(dir)!;
            using var source = Checkpoint.Open(folder);
            var totals = Totals.Of(source);
            if (source.Tensors.ContainsKey("fc.weight")) return DraftHead(folder, source, totals, r.GetValue(json));
            var config = LlamaConfig.Load(folder);
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
                tensors = totals.Tensors,
                parameters = totals.Parameters,
                bytes = totals.Bytes,
                dtypes = totals.DTypes,
                files = totals.Files,
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
                totals.Print();
            }
            return 0;
        }));
        return cmd;
    }

    // What a folder's checkpoint holds in all, from its headers.
    private sealed record Totals(int Tensors, long Parameters, long Bytes, Dictionary<string, int> DTypes, string[] Files)
    {
        public static Totals Of(ITensorSource source)
        {
            var tensors = source.Tensors.Values.ToList();
            return new Totals(
                tensors.Count,
                tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)),
                tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b) * ElementSize(t.DType)),
                tensors.GroupBy(t => t.DType).ToDictionary(g => g.Key, g => g.Count()),
                tensors.Select(t => Path.GetFileName(t.File)).Distinct().Order(StringComparer.Ordinal).ToArray());
        }

        public void Print()
        {
            Console.WriteLine($"parameters   {Parameters:N0} in {Tensors} tensors");
            Console.WriteLine($"dtypes       {string.Join(", ", DTypes.Select(d => $"{d.Key}×{d.Value}"))}");
            Console.WriteLine($"files        {string.Join(", ", Files)} ({Bytes / 1e6:F1} MB of weights)");
        }
    }

    // An EAGLE-1/2 or EAGLE-3 head: its kind (from the keys, as loading detects it), its layer, draft vocabulary and
    // the target layers it reads.
    private static int DraftHead(string folder, ITensorSource source, Totals totals, bool json)
    {
        var config = EagleHeadConfig.Load(folder);
        var kind = config.DetectKind(source.Tensors, source.Path);
        bool ownEmbedding = source.Tensors.ContainsKey("embed_tokens.weight");
        string reads = kind == EagleHeadKind.Eagle3
            ? config.AuxHiddenStateLayerIds is { } ids ? $"residual inputs of target layers {string.Join(", ", ids)}" : "residual inputs of target layers 2, N/2, N−3 (the default)"
            : "the target's final hidden state";
        var summary = new
        {
            path = Path.GetFullPath(folder),
            kind = kind.ToString(),
            hidden_size = config.HiddenSize,
            intermediate_size = config.IntermediateSize,
            num_attention_heads = config.NumAttentionHeads,
            num_key_value_heads = config.NumKeyValueHeads,
            head_dim = config.HeadDim,
            vocab_size = config.VocabSize,
            draft_vocab_size = config.DraftVocabSize,
            capture_layers = config.AuxHiddenStateLayerIds,
            own_embedding = ownEmbedding,
            tensors = totals.Tensors,
            parameters = totals.Parameters,
            bytes = totals.Bytes,
            dtypes = totals.DTypes,
            files = totals.Files,
        };
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(summary, Cli.Json));
            return 0;
        }
        Console.WriteLine($"draft head   {summary.path}");
        Console.WriteLine($"kind         {kind} (one decoder layer: hidden {config.HiddenSize}, mlp {config.IntermediateSize})");
        Console.WriteLine($"attention    {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} kv heads × {config.HeadDim}");
        Console.WriteLine($"vocabulary   target {config.VocabSize}" + (kind == EagleHeadKind.Eagle3 ? $", drafts over {config.DraftVocabSize} (d2t maps them)" : ", drafts through the target's lm_head"));
        Console.WriteLine($"reads        {reads}");
        Console.WriteLine($"embedding    {(ownEmbedding ? "its own copy" : "borrowed from the target")}");
        totals.Print();
        return 0;
    }

    private static long ElementSize(string dtype) => dtype switch { "F32" => 4, "F16" or "BF16" => 2, "F64" or "I64" => 8, _ => 4 };
}
