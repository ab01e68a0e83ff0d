using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// Speculative sampling must be distributed exactly like sampling the target one token at a time. On a target with 8
/// tokens the joint distribution of the first three generated tokens is enumerated exactly (1 + 8 + 64 forwards) and
/// compared with 12,000 seeded speculative runs by a chi-square test.
/// </summary>
public class SamplingLosslessTests
{
    private const int Runs = 12_000;
    private static readonly int[] Prompt = [1, 5];

    // One case per acceptance rule, each with a drafter that is accepted often (so rounds commit several drafts and the
    // next round starts from a bonus token): q ≡ 1 on dynamic trees under top-p, min(1, p/q) on static trees drawn from
    // q. The rules themselves — every sampling setting, often and rarely accepted paths, repeated siblings — are checked
    // on fixed logits in AcceptanceDistributionTests, thousands of rounds in seconds; these runs check the generator
    // around them (verify, commit, the next round's root and features).
    public static readonly TheoryData<string, string> Cases = new()
    {
        { "t0.7-p0.9", "dynamic-often" }, { "t1", "static-often" },
    };

    private static SamplingOptions Sampling(string name) => name switch
    {
        "t1" => new SamplingOptions { Temperature = 1f },
        "t0.7-p0.9" => new SamplingOptions { Temperature = 0.7f, TopP = 0.9f },
        _ => throw new ArgumentException(name),
    };

    private static IDrafter Drafter(string name, int vocab) => name switch
    {
        "dynamic-often" => new ScriptedDrafter(vocab, width: vocab, seed: 1),
        "static-often" => new SampledStaticDrafter(Enumerable.Repeat(1f / vocab, vocab).ToArray(), children: vocab - 1, seed: 3),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void First_three_tokens_follow_the_target_distribution_exactly(string sampling, string drafterName)
    {
        using var target = LlamaFactory.CreateRandom(TestModels.TinyVocab, seed: 21, ScalarType.Float32, CPU, lmHeadScale: 2.0);
        var options = Sampling(sampling);
        var exact = ExactJoint(target, options);
        using var drafter = Drafter(drafterName, target.Config.VocabSize);
        var generator = new SpeculativeGenerator(target, drafter) { TreeRoom = 32 };
        var counts = new Dictionary<string, int>();
        int accepted = 0;
        for (int run = 0; run < Runs; run++)
        {
            var r = generator.Generate(Prompt, new GenerationOptions
            {
                MaxNewTokens = 3, StopTokenIds = [], Sampling = options with { Seed = 1000 + run },
            });
            string key = string.Join(",", r.OutputIds);
            counts[key] = counts.GetValueOrDefault(key) + 1;
            accepted += r.Stats.AcceptedDraftTokens;
        }
        var (stat, df, p) = ChiSquare.Test(counts, exact, Runs);
        Assert.True(p > 0.001, $"chi-square {stat:F1} on {df} df, p = {p:E2}; accepted drafts {accepted}");
        Assert.True(accepted > Runs, $"only {accepted} drafts accepted");
    }

    // P(t1, t2, t3) = Π p(t_i | prompt, t_<i) with the sampler's processed distributions, by full recompute.
    private static Dictionary<string, double> ExactJoint(LlamaForCausalLM target, SamplingOptions options)
    {
        var sampler = new Sampler(options);
        var result = new Dictionary<string, double>();
        void Walk(List<int> prefix, double prob)
        {
            if (prefix.Count == 3) { result[string.Join(",", prefix)] = prob; return; }
            var p = Next(target, sampler, [.. Prompt, .. prefix]);
            for (int t = 0; t < p.Length; t++)
                if (p[t] > 0) Walk([.. prefix, t], prob * p[t]);
        }
        Walk([], 1.0);
        return result;
    }

    private static float[] Next(LlamaForCausalLM target, Sampler sampler, int[] seq)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = target.NewCache(seq.Length);
        var o = target.Forward(tensor(seq.Select(t => (long)t).ToArray()), HeldScalars.Range(0, seq.Length), cache, null, ForwardRequest.AllLogits);
        return sampler.Probabilities(o.Logits[seq.Length - 1]).data<float>().ToArray();
    }

    [Fact]
    public void The_chi_square_test_rejects_a_wrong_distribution()
    {
        var p = new Dictionary<string, double> { ["a"] = 0.5, ["b"] = 0.3, ["c"] = 0.2 };
        var right = new Dictionary<string, int> { ["a"] = 5020, ["b"] = 2990, ["c"] = 1990 };
        var wrong = new Dictionary<string, int> { ["a"] = 5400, ["b"] = 2800, ["c"] = 1800 };
        Assert.True(ChiSquare.Test(right, p, 10000).PValue > 0.1);
        Assert.True(ChiSquare.Test(wrong, p, 10000).PValue < 1e-6);
    }
}
