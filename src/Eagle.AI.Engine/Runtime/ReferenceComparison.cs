using System.Diagnostics;
using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Checks the engine against a reference implementation on real checkpoints: each folder holds a Hugging Face
/// checkpoint and the <see cref="ReferenceFile"/> computed from it, and the engine, on the device and dtype under test,
/// must reproduce its logits, captured hidden states and greedy continuation within <see cref="SelfTestTolerance"/>.
/// </summary>
internal static class ReferenceComparison
{
    /// <summary>The checkpoint folders (those with a <c>config.json</c> and a reference file) directly under <paramref name="root"/>, sorted.</summary>
    public static IReadOnlyList<string> Folders(string root) =>
        Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .Where(d => File.Exists(Path.Combine(d, "config.json")) && File.Exists(Path.Combine(d, ReferenceFile.FileName)))
            .ToList();

    /// <summary>
    /// Loads the checkpoint in <paramref name="folder"/> on <paramref name="device"/> in <paramref name="dtype"/>, compares
    /// it with the folder's reference file (<see cref="Compare"/>), then checks greedy speculative decoding against
    /// vanilla on the same model (<see cref="SpeculativeSelfTest"/>). Rows are named after the folder.
    /// </summary>
    public static IReadOnlyList<SelfTestResult> Run(string folder, Device device, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        ReferenceFile reference;
        try
        {
            reference = ReferenceFile.Load(Path.Combine(folder, ReferenceFile.FileName));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return [SelfTestResult.Error($"{name}: {ReferenceFile.FileName}", e)];
        }

        var clock = Stopwatch.StartNew();
        LlamaForCausalLM model;
        try
        {
            model = LlamaCheckpoint.Load(folder, dtype, device);
        }
        catch (Exception e) when (e is CheckpointException or IOException or ArgumentException or InvalidOperationException)
        {
            return [SelfTestResult.Error($"{name}: load", e)];
        }
        using (model)
        {
            var c = model.Config;
            var rows = new List<SelfTestResult>
            {
                new($"{name}: load", SelfTestOutcome.Pass,
                    $"{model.ParameterCount:N0} parameters, {c.NumHiddenLayers} layers, {c.NumAttentionHeads}/{c.NumKeyValueHeads} heads, " +
                    $"head_dim {c.HeadDim}, {(c.TieWordEmbeddings ? "tied" : "untied")}, {clock.ElapsedMilliseconds} ms"),
            };
            rows.AddRange(Compare(model, reference, name));
            rows.Add(SpeculativeSelfTest.Run(model, [reference.InputIds], Math.Max(reference.GreedyIds.Length, 1), check: $"{name}: speculative == vanilla"));
            return rows;
        }
    }

    /// <summary>
    /// Compares <paramref name="model"/> with <paramref name="reference"/>: the logits of every input position and the
    /// hidden states entering each listed layer (relative error within <see cref="SelfTestTolerance.Model"/>), and the
    /// greedy continuation (tokens before the first difference; required in full only in fp32).
    /// </summary>
    public static IReadOnlyList<SelfTestResult> Compare(LlamaForCausalLM model, ReferenceFile reference, string label)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(reference);
        var c = model.Config;
        int[] layers = reference.HiddenStateLayers;
        if (reference.Logits[0].Length != c.VocabSize)
            return [new($"{label}: logits", SelfTestOutcome.Fail, $"reference has {reference.Logits[0].Length} logits per row, the model {c.VocabSize}")];
        if (layers.Any(l => l < 0 || l >= c.NumHiddenLayers) || !layers.SequenceEqual(layers.Distinct().Order()))
            return [new($"{label}: hidden states", SelfTestOutcome.Fail, $"layers [{string.Join(", ", layers)}] are not ascending layers of the model's {c.NumHiddenLayers}")];
        if (reference.HiddenStates.Any(b => b[0].Length != c.HiddenSize))
            return [new($"{label}: hidden states", SelfTestOutcome.Fail, $"reference hidden size differs from the model's {c.HiddenSize}")];

        double tolerance = SelfTestTolerance.Model(model.DType);
        var rows = new List<SelfTestResult>();
        var (logits, hidden) = Forward(model, reference.InputIds, layers);
        using (logits)
        using (hidden)
        using (var scope = NewDisposeScope())
        {
            var expected = Matrix(reference.Logits);
            int n = reference.InputIds.Length;
            long agree = logits.cpu().argmax(-1).eq(expected.argmax(-1)).sum().item<long>();
            rows.Add(SelfTestResult.Within($"{label}: logits [{n}×{c.VocabSize}]", SelfTestTolerance.RelativeError(logits, expected), tolerance,
                $", argmax {agree}/{n}"));
            for (int i = 0; i < layers.Length; i++)
            {
                var actual = hidden.narrow(1, (long)i * c.HiddenSize, c.HiddenSize);
                rows.Add(SelfTestResult.Within($"{label}: hidden state entering layer {layers[i]}",
                    SelfTestTolerance.RelativeError(actual, Matrix(reference.HiddenStates[i])), tolerance));
            }
        }
        rows.Add(SelfTestResult.Guard($"{label}: greedy {reference.GreedyIds.Length} tokens", () => Greedy(model, reference, label)));
        return rows;
    }

    private static SelfTestResult Greedy(LlamaForCausalLM model, ReferenceFile reference, string label)
    {
        int total = reference.GreedyIds.Length;
        var output = new VanillaGenerator(model).Generate(reference.InputIds, new GenerationOptions { MaxNewTokens = total, StopTokenIds = [] }).OutputIds;
        int matched = SpeculativeSelfTest.CommonPrefix(reference.GreedyIds, output);
        bool must = SelfTestTolerance.TokensMustMatch(model.DType);
        return new SelfTestResult($"{label}: greedy {total} tokens",
            matched == total ? SelfTestOutcome.Pass : must ? SelfTestOutcome.Fail : SelfTestOutcome.Info,
            $"{matched}/{total} before the first difference ({100.0 * matched / Math.Max(total, 1):F1} %)",
            must ? "all tokens" : "reported only (half precision)");
    }

    /// <summary>One prefill over <paramref name="ids"/>: fp32 logits [n, V] and the hidden states entering <paramref name="layers"/> side by side [n, k·H].</summary>
    internal static (Tensor Logits, Tensor Hidden) Forward(LlamaForCausalLM model, int[] ids, int[] layers)
    {
        using var noGrad = no_grad();
        using var cache = model.NewCache(ids.Length);
        using var idt = tensor(ids.Select(i => (long)i).ToArray(), device: model.Device);
        using var positions = HeldScalars.Range(0, ids.Length, model.Device);
        var output = model.Forward(idt, positions, cache, null, new ForwardRequest(CaptureLayers: layers));
        var hidden = output.Captured ?? zeros([ids.Length, 0], model.DType, model.Device);
        return (output.Logits, hidden);
    }

    private static Tensor Matrix(float[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray()).reshape(rows.Length, rows.Length == 0 ? 0 : rows[0].Length);
}
