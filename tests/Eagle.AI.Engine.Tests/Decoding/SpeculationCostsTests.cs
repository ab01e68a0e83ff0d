using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Tests.Drafting;

namespace Eagle.AI.Engine.Tests.Decoding;

public class SpeculationCostsTests
{
    private static readonly VerifyCostCurve Curve = new([(1, 10.0), (4, 12.0), (60, 30.0)]);

    [Fact]
    public void A_small_round_costs_its_own_beam_width_and_tree_size_between_the_measured_ends()
    {
        var costs = new SpeculationCosts(Curve, DraftStepMs: 4.0, RoundOverheadMs: 6.0)
        {
            Small = new SmallRoundCosts(DraftStepMs: 1.0, OverheadMs: 0.2, FullBeamWidth: 10, FullTreeTokens: 60),
        };
        Assert.Equal(1.0, costs.DraftStepAt(1), 9);
        Assert.Equal(2.0, costs.DraftStepAt(4), 9);                      // 1 + 3 × (4 − 1) / 9
        Assert.Equal(4.0, costs.DraftStepAt(25), 9);                     // never past the measured width
        Assert.Equal(0.2, costs.OverheadAt(2), 9);
        Assert.Equal(0.3, costs.OverheadAt(3), 9);                       // 0.2 + 5.8 / 58
        // a 4-token tree 2 deep: 3 head steps over a 3-node beam, a 4-token verify, a 4-token tree's bookkeeping
        Assert.Equal(3 * (1 + 3 * 2 / 9.0) + 12.0 + (0.2 + 5.8 * 2 / 58), costs.RoundMs(new TreeBudget(4, 2)), 9);
        Assert.Equal(8 * 4.0 + 30.0 + 6.0, costs.RoundMs(new TreeBudget(60, 7)), 9);
    }

    [Fact]
    public void Without_small_round_figures_every_round_pays_the_full_step_and_bookkeeping()
    {
        var costs = new SpeculationCosts(Curve, 4.0, 6.0);
        Assert.Equal(3 * 4.0 + 12.0 + 6.0, costs.RoundMs(new TreeBudget(4, 2)), 9);
    }

    [Fact]
    public void Measuring_a_dynamic_drafter_also_measures_its_smallest_round_and_the_heads_catch_up()
    {
        using var target = TestModels.Create("C");
        using var head = DraftingFixtures.Head(EagleHeadKind.Eagle3, target, draftVocab: 50);
        using var drafter = new EagleDrafter(head, new TreeSettings { TopK = 4, Depth = 3, TotalTokens = 12, Adaptive = true }, ownsHead: false);
        var costs = SpeculationCosts.Measure(target, drafter, Curve);
        Assert.NotNull(costs.Small);
        Assert.Equal(4, costs.Small!.FullBeamWidth);
        Assert.Equal(12, costs.Small.FullTreeTokens);
        Assert.True(costs.Small!.DraftStepMs > 0 && costs.Small.OverheadMs > 0);
        // a token of a 32-token catch-up: more than nothing, less than a head step of its own
        Assert.InRange(costs.CatchUpMsPerToken, 1e-6, costs.DraftStepMs);
        Assert.Same(Curve, costs.Verify);
    }
}
