using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using static Eagle.AI.Engine.Tests.Drafting.DraftingFixtures;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Drafting;

/// <summary>
/// EAGLE-3's training-time test (<see cref="EagleTrainer"/>): the unroll must compute, for every chain, what the
/// drafter computes when it drafts that chain, or training would optimise something inference never runs.
/// </summary>
public class TrainingTimeTestTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Steps = 4;

    [Fact]
    public void The_step_mask_sees_the_committed_prefix_causally_and_the_own_chain_only()
    {
        using var mask = EagleTrainer.StepMask([4, 3, 2], CPU);
        bool[][] expected =
        [
            //        step 0 (t' ≤ t)          step 1 (same t)     step 2 (self)
            [true, false, false, false, true, false, false, true, false],
            [true, true, false, false, false, true, false, false, true],
        ];
        Assert.Equal([2L, 9L], mask.shape);
        var actual = mask.data<bool>().ToArray();
        Assert.Equal(expected.SelectMany(r => r).ToArray(), actual);
    }

    [Theory]
    [InlineData(EagleHeadKind.Eagle3)]
    [InlineData(EagleHeadKind.Eagle1)]
    public void Unrolled_step_j_equals_the_draft_time_forward_of_that_chain(EagleHeadKind kind)
    {
        using var target = Target(TrainedHeadTests.Target8, seed: 5);
        using var head = Head(kind, target, seed: 3);
        int[] s = Tokens(new Random(7), 14, target.Config.VocabSize);
        using var scope = NewDisposeScope();
        var features = TargetFeatures(target, head, s);                          // [T, F]
        int n = s.Length - 1;
        var unrolled = EagleTrainer.Unroll(head, features.narrow(0, 0, n), Ids(s[1..]), Steps);
        Assert.Equal(Steps, unrolled.Count);

        foreach (int committed in new[] { 1, 5, n - Steps + 1 })
        {
            // The drafter's committed forward over (f_p, s_{p+1}), p < committed, then a chain fed its own outputs,
            // node j at position committed − 1 + j seeing the committed prefix, its ancestors and itself.
            using var cache = head.NewCache(committed + Steps);
            var h = head.Forward(features.narrow(0, 0, committed), Ids(s[1..(committed + 1)]),
                HeldScalars.Range(committed), LlamaForCausalLM.CausalMask(0, committed, CPU), cache)
                .narrow(0, committed - 1, 1);
            cache.Advance(committed);
            int t = committed - 1;
            for (int j = 0; j < Steps; j++)
            {
                if (j > 0)
                {
                    h = head.Forward(h, Ids([s[t + 1 + j]]), tensor(new long[] { t + j }),
                        ones([1, cache.Length + 1], ScalarType.Bool), cache);
                    cache.Advance(1);
                }
                AssertClose(unrolled[j].narrow(0, t, 1), h, 1e-5, $"{kind} step {j} at t = {t}");
            }
        }
    }

    [Fact]
    public void The_drafters_greedy_chain_is_the_unrolls_argmax_chain()
    {
        using var target = Target(TrainedHeadTests.Target8, seed: 5);
        using var head = Eagle3Head.CreateRandom(target, seed: 3, draftVocabSize: 192, lmHeadScale: 8.0);
        int[] prefix = Tokens(new Random(11), 9, target.Config.VocabSize);   // committed 0..7, root prefix[8]
        int committed = prefix.Length - 1;
        using var drafter = new EagleDrafter(head, new TreeSettings { TopK = 1, Depth = Steps - 1, TotalTokens = Steps + 1 }, ownsHead: false);
        using var drafterState = drafter.Begin(32);
        using var scope = NewDisposeScope();
        var tree = drafter.Draft(drafterState, TargetFeatures(target, head, prefix).narrow(0, 0, committed), prefix[1..],
            new DraftContext(false, new Random(1)));
        int[] chain = tree.Tokens[1..];                                           // depths 1..Steps
        Assert.Equal(Steps, chain.Length);
        Assert.Equal(Enumerable.Range(-1, Steps + 1).ToArray(), tree.Parents);

        // The sequence the drafter proposes, unrolled: step j at the last committed row drafts depth j + 1.
        int[] s = [.. prefix, .. chain];
        var features = TargetFeatures(target, head, s);
        int n = s.Length - 1;
        var unrolled = EagleTrainer.Unroll(head, features.narrow(0, 0, n), Ids(s[1..]), Steps);
        var argmax = unrolled.Select(o => head.ToTarget((int)head.LogProbs(o.narrow(0, committed - 1, 1)).argmax(-1).item<long>())).ToArray();
        Assert.Equal(chain, argmax);
    }

    [Fact]
    public void Training_time_test_drafts_deeper_than_teacher_forcing_on_held_out_text()
    {
        using var target = LlamaFactory.CreateRandom(TrainedHeadTests.Target8, seed: 5, ScalarType.Float32, CPU);
        var train = EagleTrainer.GreedySequences(target, count: 64, promptLength: 4, newTokens: 28, seed: 1);
        var heldOut = EagleTrainer.GreedySequences(target, count: 16, promptLength: 4, newTokens: 28, seed: 2);
        var d2t = EagleTrainer.DraftVocabulary(train, 192, target.Config.VocabSize);
        double[] Fit(int unroll)
        {
            using var head = Eagle3Head.CreateRandom(target, seed: 3, draftVocabSize: 192, lmHeadScale: 1.0);
            head.SetDraftToTarget(d2t);
            EagleTrainer.Train(head, train, new TrainingOptions { Steps = 150, UnrollSteps = unroll });
            return [.. EagleTrainer.StepAccuracies(head, heldOut, Steps)];
        }
        var forced = Fit(1);
        var unrolled = Fit(Steps);
        output.WriteLine($"teacher forcing: {string.Join(", ", forced.Select(a => a.ToString("P1")))}");
        output.WriteLine($"training-time test: {string.Join(", ", unrolled.Select(a => a.ToString("P1")))}");
        double Deep(double[] a) => a.Skip(1).Average();
        Assert.True(Deep(unrolled) > Deep(forced) + 0.2,
            $"mean accuracy at depths 2..{Steps}: TTT {Deep(unrolled):P1} vs teacher forcing {Deep(forced):P1}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(TrainingOptions.MaxUnrollSteps + 1)]
    public void Unroll_steps_outside_the_range_are_refused_with_the_range(int steps)
    {
        using var target = Target(TrainedHeadTests.Target8, seed: 5);
        using var head = Eagle3Head.CreateRandom(target, seed: 3, draftVocabSize: 192);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            EagleTrainer.Train(head, [[1, 2, 3]], new TrainingOptions { Steps = 1, UnrollSteps = steps }));
        Assert.Contains($"UnrollSteps must be in [1, {TrainingOptions.MaxUnrollSteps}]", e.Message);
    }

    private static Tensor TargetFeatures(LlamaForCausalLM target, EagleHead head, int[] s)
    {
        using var noGrad = no_grad();
        using var cache = target.NewCache(s.Length);
        using var o = target.Forward(Ids(s), HeldScalars.Range(s.Length), cache, null,
            new ForwardRequest(CaptureLayers: head.Features.CaptureLayers, FinalHidden: head.Features.FinalHidden));
        return (head.Features.CaptureLayers is not null ? o.Captured! : o.FinalHidden!).clone();
    }
}
