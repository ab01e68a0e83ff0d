using Eagle.AI.Engine.Checkpoints;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>Builds random LLaMA models in memory and writes them as Hugging Face checkpoints.</summary>
internal static class LlamaFactory
{
    /// <summary>A model with seeded random weights (see <see cref="RandomWeights"/>).</summary>
    public static LlamaForCausalLM CreateRandom(LlamaConfig config, long seed, ScalarType dtype, Device device, double lmHeadScale = 8.0)
    {
        config.Validate("preset");
        var m = new LlamaForCausalLM(config, dtype, device);
        RandomWeights.Initialize(m, config.NumHiddenLayers, seed, lmHeadScale);
        return m;
    }
}
