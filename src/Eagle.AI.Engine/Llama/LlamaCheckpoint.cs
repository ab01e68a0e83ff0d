using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>Reads and writes LLaMA models as Hugging Face checkpoint folders.</summary>
public static class LlamaCheckpoint
{
    /// <summary>Loads <c>config.json</c> and the weights of <paramref name="folder"/> (safetensors, sharded or not, or .bin).</summary>
    /// <exception cref="CheckpointException">A file is missing or malformed, or a tensor is missing, unexpected or mis-shaped.</exception>
    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="dtype">Weight and activation dtype.</param>
    /// <param name="device">The home device (embedding, norm, lm_head; all layers unless <paramref name="placement"/> says otherwise).</param>
    /// <param name="progress">Called with (tensors loaded, total).</param>
    /// <param name="placement">Optional layer split over devices (see <see cref="LayerPlacement.Parse"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="placement"/> does not start on <paramref name="device"/> or does not cover the model's layers exactly.</exception>
    public static LlamaForCausalLM Load(string folder, ScalarType dtype, Device device, Action<int, int>? progress = null, LayerPlacement? placement = null)
    {
        var config = LlamaConfig.Load(folder);
        var m = new LlamaForCausalLM(config, dtype, device, placement);
        try
        {
            using var source = Checkpoint.Open(folder);
            // Tied checkpoints sometimes still carry lm_head.weight; it is the embedding, so skip it.
            var ignore = config.TieWordEmbeddings ? new HashSet<string> { "lm_head.weight" } : null;
            StateDictLoader.Load(m, source, strict: true, ignore: ignore, progress: progress);
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    /// <summary>Loads <paramref name="folder"/> where <paramref name="plan"/> says (its draft device is the drafter's business).</summary>
    /// <exception cref="CheckpointException">A file is missing or malformed, or a tensor is missing, unexpected or mis-shaped.</exception>
    /// <exception cref="ArgumentException">The plan's placement does not cover the model's layers exactly.</exception>
    internal static LlamaForCausalLM Load(string folder, LoadPlan plan, Action<int, int>? progress = null) =>
        Load(folder, plan.DType, plan.Device, progress, plan.Placement);

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> (or shards + index when <paramref name="maxShardBytes"/> is set).</summary>
    public static void Save(LlamaForCausalLM model, string folder, long? maxShardBytes = null)
    {
        Directory.CreateDirectory(folder);
        (model.Config with { TorchDtype = TorchRuntime.Name(model.DType) }).Save(folder);
        var tensors = model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        if (maxShardBytes is { } max)
            SafetensorsWriter.WriteSharded(folder, tensors, max);
        else
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors,
                new Dictionary<string, string> { ["format"] = "pt" });
    }
}
