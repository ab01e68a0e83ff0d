using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

/// <summary>Targets, heads, features and temp folders for the drafting tests.</summary>
internal static class DraftingFixtures
{
    /// <summary>A 3-layer target with a vocabulary of 6 (top-k and static ranks must clamp to it).</summary>
    public static readonly LlamaConfig Tiny = new()
    {
        HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 3, NumAttentionHeads = 2, NumKeyValueHeadsRaw = 1,
        VocabSize = 6, RopeTheta = 10000, TieWordEmbeddings = false,
    };

    public static LlamaForCausalLM Target(LlamaConfig config, long seed = 1) =>
        LlamaFactory.CreateRandom(config, seed, ScalarType.Float32, CPU);

    public static EagleHead Head(EagleHeadKind kind, LlamaForCausalLM target, long seed = 2, int? draftVocab = null) =>
        kind == EagleHeadKind.Eagle3 ? Eagle3Head.CreateRandom(target, seed, draftVocab) : Eagle1Head.CreateRandom(target, seed);

    /// <summary>Random features [n, F] of unit scale, like residual-stream activations.</summary>
    public static Tensor Features(EagleHead head, int n, long seed)
    {
        using var g = new Generator((ulong)seed);
        return randn([n, head.FeatureSize], generator: g);
    }

    public static int[] Tokens(Random r, int n, int vocab) => Enumerable.Range(0, n).Select(_ => r.Next(vocab)).ToArray();

    public static Tensor Ids(int[] ids) => tensor(ids.Select(i => (long)i).ToArray());

    public static double[][] Rows(Tensor t)
    {
        using var c = t.to(ScalarType.Float64, CPU).contiguous();
        var flat = c.data<double>().ToArray();
        int cols = (int)c.shape[^1];
        return Enumerable.Range(0, flat.Length / cols).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }

    public static void AssertClose(Tensor actual, Tensor expected, double tol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var a = Rows(actual);
        var b = Rows(expected);
        double num = 0, den = 1e-30;
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < a[i].Length; j++)
            {
                num = Math.Max(num, Math.Abs(a[i][j] - b[i][j]));
                den = Math.Max(den, Math.Abs(b[i][j]));
            }
        Assert.True(num / den < tol, $"{what}: relative error {num / den:E3} ≥ {tol:E1}");
    }

    public static void AssertExact(Tensor actual, Tensor expected, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var a = actual.to(ScalarType.Float64);
        using var e = expected.to(ScalarType.Float64);
        using var same = a.eq(e).all();
        Assert.True(same.item<bool>(), $"{what} differs");
    }

    public static DraftContext Greedy => new(false, new Random(0));
}

/// <summary>A fresh folder under the system temp folder, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "eagle-head-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder must not fail a test that passed
        }
    }
}
