using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Tests.Drafting;

namespace Eagle.AI.Engine.Tests.Decoding;

// The counters the serving loop reads around each step: a step is one prefill chunk or one round, and they add up to
// the request's statistics.
public sealed class DecodingProgressTests
{
    [Fact]
    public void Step_by_step_progress_adds_up_to_the_statistics_of_a_speculative_and_a_plain_session()
    {
        using var target = TestModels.Create("B", seed: 3);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 12, Depth = 3, TopK = 3 });
        int[] prompt = TestModels.RandomPrompt(new Random(8), 23, target.Config.VocabSize);
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        using var speculative = new SpeculativeGenerator(target, drafter) { PrefillChunkTokens = 10 }.Start(prompt, options);
        using var plain = new VanillaGenerator(target).Start(prompt, options);

        foreach (DecodingSession session in new DecodingSession[] { speculative, plain })
        {
            Assert.Equal(new DecodingProgress(0, 0, 0, 0, 0, session.Capacity), session.Progress);
            int roundsSeen = 0, tokensInRounds = 0;
            while (!session.Done)
            {
                var before = session.Progress;
                session.Step();
                var after = session.Progress;
                Assert.InRange(after.Rounds - before.Rounds, 0, 1);
                if (after.Rounds > before.Rounds)
                {
                    roundsSeen++;
                    tokensInRounds += after.Generated - before.Generated;
                    Assert.Equal(before.Prefilled, after.Prefilled);
                }
            }
            var stats = session.Result.Stats;
            var progress = session.Progress;
            Assert.Equal(stats.PromptTokens, progress.Prefilled);
            Assert.Equal(stats.GeneratedTokens, progress.Generated);
            Assert.Equal(stats.Rounds, progress.Rounds);
            Assert.Equal(stats.Rounds, roundsSeen);
            Assert.Equal(stats.GeneratedTokens - 1, tokensInRounds);
            Assert.Equal(stats.AcceptedDraftTokens, progress.AcceptedDraftTokens);
            Assert.Equal(stats.VerifiedTreeTokens + stats.Rounds - stats.DraftedRounds, progress.VerifiedTokens);
        }
        Assert.True(speculative.Progress.VerifiedTokens > speculative.Progress.Rounds, "drafted rounds verify trees");
        Assert.Equal(plain.Progress.Rounds, plain.Progress.VerifiedTokens);
    }
}
