using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Greedy speculative decoding must reproduce greedy vanilla decoding token for token, whatever the draft head: a
/// random EAGLE-3 head proposes poor trees, but tree verification, acceptance and KV-cache compaction still run on the
/// device, and any error in them changes the output.
/// </summary>
internal static class SpeculativeSelfTest
{
    /// <summary>
    /// Runs both decoders on <paramref name="prompts"/> for <paramref name="newTokens"/> tokens each (no stop tokens) and
    /// reports the share of tokens that agree before the first difference, with the mean acceptance length τ. Required
    /// to be all in fp32 (see <see cref="SelfTestTolerance.TokensMustMatch"/>), reported otherwise. A target too shallow
    /// for three distinct EAGLE-3 capture layers gives an information row. The head is
    /// <see cref="Eagle3Head.CreateRandom"/> with <paramref name="draftVocabSize"/> and <paramref name="headLogitScale"/>.
    /// </summary>
    public static SelfTestResult Run(LlamaForCausalLM target, IReadOnlyList<int[]> prompts, int newTokens, long seed = 1,
        string check = "speculative == vanilla", int? draftVocabSize = null, double headLogitScale = 8.0)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(prompts);
        return SelfTestResult.Guard(check, () =>
        {
            Eagle3Head head;
            try
            {
                head = Eagle3Head.CreateRandom(target, seed, draftVocabSize, headLogitScale);
            }
            catch (DraftModelMismatchException e)
            {
                return new SelfTestResult(check, SelfTestOutcome.Info, $"skipped: {e.Message}");
            }
            EagleDrafter drafter;
            try
            {
                drafter = new EagleDrafter(head);
            }
            catch
            {
                head.Dispose();
                throw;
            }
            using (drafter)
            {
                var options = new GenerationOptions { MaxNewTokens = newTokens, StopTokenIds = [] };
                var vanilla = new VanillaGenerator(target);
                var speculative = new SpeculativeGenerator(target, drafter);
                int matched = 0, total = 0;
                double tokens = 0, rounds = 0;
                foreach (var prompt in prompts)
                {
                    var expected = vanilla.Generate(prompt, options).OutputIds;
                    var actual = speculative.Generate(prompt, options);
                    matched += CommonPrefix(expected, actual.OutputIds);
                    total += expected.Count;
                    tokens += actual.Stats.GeneratedTokens - 1;
                    rounds += actual.Stats.Rounds;
                }
                bool must = SelfTestTolerance.TokensMustMatch(target.DType);
                var outcome = matched == total ? SelfTestOutcome.Pass : must ? SelfTestOutcome.Fail : SelfTestOutcome.Info;
                return new SelfTestResult(check, outcome,
                    $"{matched}/{total} tokens ({100.0 * matched / total:F1} %), τ {tokens / Math.Max(rounds, 1):F2}, random EAGLE-3 head" +
                    // On the selftest's 8-token vocabulary random drafts land by chance; on a real vocabulary they do not.
                    (target.Config.VocabSize < 1000 ? $" over a {target.Config.VocabSize}-token vocabulary (its drafts land by chance; τ says nothing of a real head)" : ""),
                    must ? "all tokens" : "reported only (half precision)");
            }
        });
    }

    /// <summary>
    /// The same check on a seeded random model of the <c>tiny</c> preset's layers (8 layers, GQA, llama3 RoPE) with a
    /// 8-token vocabulary, built on <paramref name="device"/> in <paramref name="dtype"/>, over three prompts of 32 new
    /// tokens. The small vocabulary and a flat random head are deliberate: every token is a child of the root in each
    /// tree (a peaked head would spend the tree on deep chains instead), so tokens get accepted and the accept/compact
    /// path runs, not only the reject path. (The reference checkpoints run the usual half-size draft vocabulary with
    /// its d2t map and a peaked head.)
    /// </summary>
    public static SelfTestResult RunOnRandomModel(Device device, ScalarType dtype)
    {
        const string check = "speculative == vanilla (random tiny model)";
        return SelfTestResult.Guard(check, () =>
        {
            using var target = LlamaFactory.CreateRandom(LlamaPresets.Get("tiny") with { VocabSize = 8 }, 5, dtype, device);
            var random = new Random(5);
            var prompts = new[] { 5, 9, 14 }
                .Select(n => Enumerable.Range(0, n).Select(_ => random.Next(0, target.Config.VocabSize)).ToArray()).ToList();
            return Run(target, prompts, 32, seed: 7, check, draftVocabSize: target.Config.VocabSize, headLogitScale: 0.5);
        });
    }

    /// <summary>How many leading tokens two sequences share.</summary>
    internal static int CommonPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = 0;
        while (n < a.Count && n < b.Count && a[n] == b[n]) n++;
        return n;
    }
}
