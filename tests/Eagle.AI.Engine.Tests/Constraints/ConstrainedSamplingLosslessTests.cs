using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Tests.Decoding;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Constraints;

/// <summary>
/// Constrained speculative sampling must be distributed exactly like sampling the constrained target one token at a time
/// (mask, then temperature and top-p, renormalised). On a target with 8 tokens spelling small JSON arrays, the joint
/// distribution of the first three tokens is enumerated exactly and compared with seeded speculative runs by a chi-square
/// test: deterministic drafts (forbidden ones pruned) and drafts sampled from q (kept, and rejected by the mask), and an EAGLE head whose sampled tree draws from the allowed tokens only.
/// </summary>
public class ConstrainedSamplingLosslessTests
{
    private const int Runs = 4000;
    private static readonly int[] Prompt = [1, 5];
    private static readonly HashSet<int> Stops = [2];
    private static readonly byte[]?[] Vocabulary = [.. new[] { "[", "]", null, "1", ",", "0", "[1", "]]" }.Select(s => s is null ? null : Encoding.UTF8.GetBytes(s))];
    private static readonly OutputConstraint Constraint = new(JsonGrammar.FromSchema(JsonDocument.Parse(
        """{"type":"array","items":{"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"integer"},"maxItems":1}]},"maxItems":2}""").RootElement),
        new TokenTrie(Vocabulary));

    // The EAGLE head's static tree draws its children from its distribution restricted to the allowed tokens (and
    // records that distribution for acceptance); the test drafters propose freely.
    public static readonly TheoryData<string> Drafters = new() { "dynamic", "static", "eagle-static" };

    [Theory]
    [MemberData(nameof(Drafters))]
    public void First_three_tokens_follow_the_constrained_target_distribution_exactly(string drafterName)
    {
        using var target = LlamaFactory.CreateRandom(TestModels.TinyVocab, seed: 21, ScalarType.Float32, CPU, lmHeadScale: 2.0);
        var sampling = new SamplingOptions { Temperature = 0.8f, TopP = 0.95f };
        var exact = ExactJoint(target, sampling);
        using IDrafter drafter = drafterName switch
        {
            "dynamic" => new ScriptedDrafter(8, width: 8, seed: 1),
            "static" => new SampledStaticDrafter(Enumerable.Repeat(1f / 8, 8).ToArray(), children: 7, seed: 3),
            _ => new EagleDrafter(Eagle1Head.CreateRandom(target, 4), TreeSettings.Static()),
        };
        var generator = new SpeculativeGenerator(target, drafter) { TreeRoom = 32 };
        var counts = new Dictionary<string, int>();
        int accepted = 0;
        for (int run = 0; run < Runs; run++)
        {
            var r = generator.Generate(Prompt, new GenerationOptions
            {
                MaxNewTokens = 3, StopTokenIds = Stops, Constraint = Constraint, Sampling = sampling with { Seed = 1000 + run },
            });
            string key = string.Join(",", r.OutputIds);
            counts[key] = counts.GetValueOrDefault(key) + 1;
            accepted += r.Stats.AcceptedDraftTokens;
        }
        var (stat, df, p) = ChiSquare.Test(counts, exact, Runs);
        Assert.True(p > 0.001, $"chi-square {stat:F1} on {df} df, p = {p:E2}; accepted drafts {accepted}");
        Assert.True(accepted > Runs / 2, $"only {accepted} drafts accepted");
    }

    // P(t1, t2, t3) = Π p(t_i | prompt, t_<i), each the sampler's distribution of the masked logits (a stop ends early).
    private static Dictionary<string, double> ExactJoint(LlamaForCausalLM target, SamplingOptions options)
    {
        var sampler = new Sampler(options);
        var tracker = new ConstraintTracker(Constraint, Stops);
        var result = new Dictionary<string, double>();
        void Walk(List<int> prefix, JsonFrame state, double prob)
        {
            if (prefix.Count == 3 || (prefix.Count > 0 && Stops.Contains(prefix[^1]))) { result[string.Join(",", prefix)] = prob; return; }
            var p = Next(target, sampler, tracker, state, [.. Prompt, .. prefix]);
            for (int t = 0; t < p.Length; t++)
                if (p[t] > 0) Walk([.. prefix, t], Constraint.Next(state, t, Stops)!, prob * p[t]);
        }
        Walk([], Constraint.Start(), 1.0);
        return result;
    }

    private static float[] Next(LlamaForCausalLM target, Sampler sampler, ConstraintTracker tracker, JsonFrame state, int[] seq)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = target.NewCache(seq.Length);
        var o = target.Forward(tensor(seq.Select(t => (long)t).ToArray()), HeldScalars.Range(0, seq.Length), cache, null, ForwardRequest.AllLogits);
        var masked = tracker.MaskRows(o.Logits[seq.Length - 1].unsqueeze(0), [state]).squeeze(0);
        return sampler.Probabilities(masked).data<float>().ToArray();
    }
}
