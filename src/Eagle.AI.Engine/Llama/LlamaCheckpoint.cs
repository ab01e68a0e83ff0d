using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>Reads and writes LLaMA models as Hugging Face checkpoint folders.</summary>
public static class LlamaCheckpoint
{
    /// <summary>Loads <c>config.json</c> and the weights of <paramref name="folder"/> (safetensors, sharded or not, or .bin).</summary>
    /// <exception cref="CheckpointException">A file is missing or malformed, or a tensor is missing, unexpected or mis-shaped.</exception>
    public static LlamaForCausalLM Load(string folder, ScalarType dtype, Device device, Action<int, int>? progress = null)
    {
        var config = LlamaConfig.Load(folder);
        var m = new LlamaForCausalLM(config, dtype, device);
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
