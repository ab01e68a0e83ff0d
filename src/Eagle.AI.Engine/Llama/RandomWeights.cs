using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// Seeded random weights for test and benchmark models. The lm_head is scaled so that logits have a standard deviation
/// of about <c>lmHeadScale</c>: the softmax is peaked and greedy choices are far from ties, so fp32 rounding differences
/// between code paths (one token vs a tree of tokens) cannot flip an argmax.
/// On a CPU the values come from one seeded CPU generator in parameter-name order, so a seed gives the same model on
/// every machine. On CUDA they are drawn on the device from its own generator, seeded the same way: TorchSharp 0.107
/// creates only CPU generators, and drawing an 8B model's 8 billion values on one CPU thread would take minutes per
/// process (`bench --shape llama3-1b`, 1.2 billion, spends ~30 s here on its weights), which a GPU check cannot spare. A seed gives the same CUDA model on every run, not the
/// CPU model's values.
/// </summary>
internal static class RandomWeights
{
    /// <summary>Fills every parameter of <paramref name="model"/> from <paramref name="seed"/>.</summary>
    public static void Initialize(nn.Module model, int layers, long seed, double lmHeadScale = 8.0)
    {
        using var guard = no_grad();
        using var g = new Generator((ulong)seed);
        if (model.parameters().Any(p => p.device.type == DeviceType.CUDA)) cuda.manual_seed_all(seed);
        Tensor Noise(Tensor p) => p.device.type == DeviceType.CUDA
            ? randn(p.shape, ScalarType.Float32, p.device)                      // the device's generator, seeded above
            : randn(p.shape, generator: g);
        foreach (var (name, p) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            Tensor value;
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                value = Noise(p).Times(0.1).Plus(1.0);  // norms near 1, not exactly, so they are tested
            else if (name.EndsWith("embed_tokens.weight", StringComparison.Ordinal))
                value = Noise(p);
            else if (name == "lm_head.weight")
                value = Noise(p).Times(lmHeadScale / Math.Sqrt(p.shape[1]));
            else if (p.shape.Length == 2)
            {
                // unit-variance outputs; residual writers scaled down so the stream stays O(1) through the layers
                double std = 1.0 / Math.Sqrt(p.shape[1]);
                if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal))
                    std /= Math.Sqrt(2.0 * layers);
                value = Noise(p).Times(std);
            }
            else
                value = Noise(p).Times(0.02);
            p.copy_(value);
        }
    }
}
