using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>The adaptive tree rule on made-up costs: the sizes it picks follow the verify cost and the acceptance it sees.</summary>
public class SpeculationPolicyTests
{
    private static readonly TreeBudget Largest = new(60, 7);

    // A GPU-like device: verifying 60 tokens costs about one step; a CPU-like one: verify cost grows with the tokens.
    private static SpeculationCosts GpuLike() =>
        new(new VerifyCostCurve([(1, 10.0), (2, 10.0), (4, 10.05), (8, 10.1), (16, 10.2), (32, 10.5), (60, 11.0), (64, 11.1)]), 0.5, 0.3);

    private static SpeculationCosts CpuLike() =>
        new(new VerifyCostCurve([(1, 10.0), (2, 11), (4, 11.5), (8, 12), (16, 14.5), (32, 20), (60, 29), (64, 30)]), 1.2, 0.5);

    private static SpeculationCosts Steep() =>
        new(new VerifyCostCurve([(1, 10.0), (2, 13), (4, 18), (8, 31), (16, 55), (32, 105), (60, 190), (64, 200)]), 1.2, 0.5);

    // Runs the policy for a number of rounds, each accepting what depthAccepted says for the chosen budget.
    private static List<TreeBudget?> Run(SpeculationPolicy policy, int rounds, Func<TreeBudget, int> accepted, BatchLoad? load = null)
    {
        var chosen = new List<TreeBudget?>();
        for (int i = 0; i < rounds; i++)
        {
            var b = policy.Next(load);
            chosen.Add(b);
            if (b is { } budget) policy.Observe(budget, accepted(budget));
        }
        return chosen;
    }

    [Fact]
    public void The_menu_climbs_to_the_configured_tree_and_never_past_it()
    {
        Assert.Equal([new(2, 0), new(3, 1), new(4, 2), new(6, 3), new(8, 4), new(16, 5), new(32, 6), new(60, 7)], SpeculationPolicy.MenuUpTo(Largest));
        Assert.Equal([new(2, 0), new(3, 1), new(4, 2), new(6, 2), new(8, 2), new(12, 2)], SpeculationPolicy.MenuUpTo(new TreeBudget(12, 2)));
        Assert.Equal([new(2, 0)], SpeculationPolicy.MenuUpTo(new TreeBudget(2, 0)));
    }

    [Fact]
    public void A_head_that_is_always_right_gets_the_biggest_tree_where_verification_is_free()
    {
        var policy = SpeculationPolicy.Adaptive(Largest, GpuLike());
        var chosen = Run(policy, 40, b => b.MaxAccepted);
        Assert.All(chosen.Skip(10), b => Assert.Equal(Largest, b));
        Assert.Equal(40, policy.DraftedRounds);
    }

    [Fact]
    public void A_head_that_is_never_right_stops_drafting_and_only_probes_rarely()
    {
        var policy = SpeculationPolicy.Adaptive(Largest, CpuLike());
        var chosen = Run(policy, 400, _ => 0);
        int drafted = chosen.Count(b => b is not null);
        // After the first few rounds learn that nothing lands, only the smallest tree is probed, at most once per
        // MaxProbeInterval plain steps once the interval has grown.
        Assert.True(drafted <= 10 + 400 / SpeculationPolicy.MaxProbeInterval, $"{drafted} drafted rounds");
        Assert.All(chosen.Skip(50).Where(b => b is not null), b => Assert.Equal(new TreeBudget(2, 0), b));
        Assert.Equal(400 - drafted, policy.PlainRounds);
        Assert.Equal(drafted, policy.TreeSizes.Values.Sum());
    }

    [Fact]
    public void Beside_others_a_head_that_is_never_right_probes_as_many_times_more_rarely()
    {
        var alone = SpeculationPolicy.Adaptive(Largest, CpuLike());
        var busy = SpeculationPolicy.Adaptive(Largest, CpuLike());
        int draftedAlone = Run(alone, 2000, _ => 0).Count(b => b is not null);
        int draftedBusy = Run(busy, 2000, _ => 0, new BatchLoad(7, 8)).Count(b => b is not null);
        // alone: one probe per MaxProbeInterval plain steps; beside 7 others, one per 8 × that
        Assert.InRange(draftedAlone, 2000 / SpeculationPolicy.MaxProbeInterval - 5, 2000 / SpeculationPolicy.MaxProbeInterval + 10);
        Assert.True(draftedBusy <= 10 + 2000 / (8 * SpeculationPolicy.MaxProbeInterval), $"{draftedBusy} drafted rounds beside 7 others");
    }

    // Eight sessions with a head that is never right, stepped together as DecodingSession.Step does: each decides in
    // turn, seeing whether one before it drafts. Probes that ride along with another's gather in few steps.
    [Fact]
    public void In_a_batch_probes_gather_in_few_steps_instead_of_one_step_each()
    {
        var policies = Enumerable.Range(0, 8).Select(_ => SpeculationPolicy.Adaptive(Largest, CpuLike())).ToArray();
        // staggered starts, as requests that joined at different times
        for (int p = 0; p < policies.Length; p++) Run(policies[p], 5 * p, _ => 0, new BatchLoad(7, 8));
        int steps = 4000, stepsWithProbes = 0, probes = 0;
        for (int step = 0; step < steps; step++)
        {
            bool drafting = false;
            foreach (var policy in policies)
            {
                var b = policy.Next(new BatchLoad(7, 8, drafting));
                if (b is not { } budget) continue;
                policy.Observe(budget, 0);
                drafting = true;
                probes++;
            }
            if (drafting) stepsWithProbes++;
        }
        // Each session still probes about once per 8 × MaxProbeInterval steps (at most twice as often when riding
        // along), but most of those probes share a step.
        Assert.InRange(probes, steps / (8 * SpeculationPolicy.MaxProbeInterval), 2 * 8 * steps / (8 * SpeculationPolicy.MaxProbeInterval) + 40);
        Assert.True(stepsWithProbes * 3 <= probes, $"{probes} probes in {stepsWithProbes} steps");
    }

    [Fact]
    public void A_session_rides_along_only_past_half_its_probe_interval()
    {
        var policy = SpeculationPolicy.Adaptive(Largest, CpuLike());
        Run(policy, 200, _ => 0);                                       // the interval has grown to MaxProbeInterval
        var plainRun = Run(policy, SpeculationPolicy.MaxProbeInterval, _ => 0);
        int sinceProbe = plainRun.Count - 1 - plainRun.FindLastIndex(b => b is not null);
        while (2 * (sinceProbe + 1) < SpeculationPolicy.MaxProbeInterval)
        {
            Assert.Null(policy.Next(new BatchLoad(1, 2, Drafting: true)));      // too early: another's draft is no reason
            sinceProbe++;
        }
        Assert.Equal(new TreeBudget(2, 0), policy.Next(new BatchLoad(1, 2, Drafting: true)));
    }

    // Steps a policy whose head is never right the way a session does: every plain step commits a token the head has not
    // seen, a drafted round feeds it all of them. Returns the steps (after the first) that drafted.
    private static List<int> DraftedSteps(SpeculationPolicy policy, int steps, int pending, BatchLoad? load = null)
    {
        var drafted = new List<int>();
        for (int step = 0; step < steps; step++)
        {
            if (policy.Next(load, pending) is { } budget)
            {
                policy.Observe(budget, 0);
                drafted.Add(step);
                pending = 1;
            }
            else pending++;
        }
        return drafted;
    }

    [Fact]
    public void A_probe_waits_until_the_heads_catch_up_is_a_small_share_of_the_plain_time_since_the_last_draft()
    {
        var costs = CpuLike() with { CatchUpMsPerToken = 0.1 };                  // a plain step alone: 10 ms
        var policy = SpeculationPolicy.Adaptive(Largest, costs);
        DraftedSteps(policy, 200, 1);                                           // learns that nothing lands; probes at long intervals
        // A long stretch the head has not seen (as after a long prompt): 500 tokens, and one more each plain step. The
        // probe waits for 0.1 × (500 + s) ≤ ProbeBudget × 10 × s, s = 250 plain steps since the last draft (up to one
        // interval of them already behind it), where the interval alone says ≤ 32.
        double perStep = SpeculationPolicy.ProbeBudget * 10 - 0.1;
        int wait = (int)Math.Ceiling(500 * 0.1 / perStep);
        Assert.InRange(DraftedSteps(policy, 400, 500)[0], wait - SpeculationPolicy.MaxProbeInterval - 1, wait + SpeculationPolicy.MaxProbeInterval);
        var free = SpeculationPolicy.Adaptive(Largest, CpuLike());               // catch-up not measured: the interval alone
        DraftedSteps(free, 200, 1);
        Assert.InRange(DraftedSteps(free, 400, 500)[0], 0, SpeculationPolicy.MaxProbeInterval);
    }

    // After a long prompt the first draft makes the head catch up on all of it: worth it only when the request may still
    // produce enough tokens for the rounds to win that back.
    [Fact]
    public void A_first_draft_after_a_long_prompt_waits_for_enough_tokens_left_to_repay_the_heads_catch_up()
    {
        var costs = CpuLike() with { CatchUpMsPerToken = 0.5 };                  // 2,000 unseen tokens: a 1 s catch-up
        Assert.Null(SpeculationPolicy.Adaptive(Largest, costs).Next(null, pendingTokens: 2000, remainingTokens: 16));
        Assert.NotNull(SpeculationPolicy.Adaptive(Largest, costs).Next(null, pendingTokens: 2000, remainingTokens: 100_000));
        Assert.NotNull(SpeculationPolicy.Adaptive(Largest, costs).Next(null, pendingTokens: 2000));    // unknown: as before
        Assert.NotNull(SpeculationPolicy.Adaptive(Largest, costs).Next(null, pendingTokens: 3, remainingTokens: 16)); // a round's own tokens cost nothing extra

        // The boundary: the best size's saving per token (a plain step's time against its round's per expected token)
        // times the tokens left, against the catch-up beyond that round's own tokens.
        var policy = SpeculationPolicy.Adaptive(Largest, costs);
        var size = policy.Next(null, pendingTokens: 3)!.Value;
        int s = policy.Menu.ToList().IndexOf(size);
        double saved = costs.StepMs - costs.RoundMs(size) / policy.ExpectedTokens(s);
        int needed = (int)Math.Ceiling(costs.CatchUpMsPerToken * (2000 - size.MaxAccepted - 1) / saved);
        Assert.Null(SpeculationPolicy.Adaptive(Largest, costs).Next(null, 2000, needed - 1));
        Assert.Equal(size, SpeculationPolicy.Adaptive(Largest, costs).Next(null, 2000, needed + 1));
    }

    [Fact]
    public void In_a_full_batch_a_head_that_is_never_right_is_not_probed_while_its_catch_up_outgrows_its_share_of_a_step()
    {
        // Beside 7 others a plain step's share is 12 ms ÷ 8 = 1.5 ms; the head's catch-up grows 0.1 ms a step: 6.7 %.
        var costs = CpuLike() with { CatchUpMsPerToken = 0.1 };
        var busy = DraftedSteps(SpeculationPolicy.Adaptive(Largest, costs), 3000, 16, new BatchLoad(7, 8));
        Assert.All(busy, s => Assert.True(s < 50, $"a probe at step {s}"));      // only while learning that nothing lands
        // Alone, the same head's catch-up is 1 % of a plain step: it is still probed.
        var alone = DraftedSteps(SpeculationPolicy.Adaptive(Largest, costs), 3000, 16);
        Assert.True(alone.Count(s => s >= 50) >= 3000 / (2 * SpeculationPolicy.MaxProbeInterval), $"{alone.Count(s => s >= 50)} probes alone");
    }

    // With an AcceptanceMemory, a request starts from what the requests before it learned of the head.
    [Fact]
    public void After_a_head_that_is_never_right_the_next_request_starts_plain_and_probes_late()
    {
        var memory = new AcceptanceMemory();
        Run(SpeculationPolicy.Adaptive(Largest, CpuLike(), memory), 200, _ => 0);
        var fresh = Run(SpeculationPolicy.Adaptive(Largest, CpuLike()), 40, _ => 0);
        var next = Run(SpeculationPolicy.Adaptive(Largest, CpuLike(), memory), 40, _ => 0);

        Assert.NotNull(fresh[0]);                                       // the fixed prior is optimistic: a first tree
        Assert.All(next.Take(SpeculationPolicy.MaxProbeInterval - 1), b => Assert.Null(b));
        Assert.True(next.Count(b => b is not null) < fresh.Count(b => b is not null),
            $"{next.Count(b => b is not null)} drafted rounds after the memory, {fresh.Count(b => b is not null)} without");
    }

    [Fact]
    public void After_a_head_that_is_always_right_the_next_request_starts_with_a_bigger_tree()
    {
        var memory = new AcceptanceMemory();
        Run(SpeculationPolicy.Adaptive(Largest, CpuLike(), memory), 100, b => b.MaxAccepted);
        var fresh = SpeculationPolicy.Adaptive(Largest, CpuLike()).Next();
        var next = SpeculationPolicy.Adaptive(Largest, CpuLike(), memory).Next();
        Assert.True(next!.Value.TotalTokens > fresh!.Value.TotalTokens, $"{next} after the memory, {fresh} without");
    }

    [Fact]
    public void A_draft_that_lands_again_makes_the_next_requests_probe_eagerly()
    {
        var memory = new AcceptanceMemory();
        Run(SpeculationPolicy.Adaptive(Largest, CpuLike(), memory), 200, _ => 0);
        Assert.Equal(SpeculationPolicy.MaxProbeInterval, memory.ProbeInterval);
        memory.Observe(acceptedDrafts: 2);
        Assert.Equal(SpeculationPolicy.ProbeInterval, memory.ProbeInterval);
    }

    [Fact]
    public void Under_a_full_batch_on_a_compute_bound_device_speculation_shrinks_and_then_stops()
    {
        // Alone, a good head gets a mid-size tree on the CPU-like curve; beside 7 and then 63 other sessions the same
        // tree would slow all of them, so the trees get smaller and then give way to plain steps and the smallest probe
        // (probes stay frequent because their drafts land: it is the cost, not the head, that rules the trees out).
        var alone = Run(SpeculationPolicy.Adaptive(Largest, CpuLike()), 60, b => b.MaxAccepted).Skip(20).ToList();
        var busy = Run(SpeculationPolicy.Adaptive(Largest, CpuLike()), 60, b => b.MaxAccepted, new BatchLoad(7, 8)).Skip(20).ToList();
        var full = Run(SpeculationPolicy.Adaptive(Largest, CpuLike()), 200, b => b.MaxAccepted, new BatchLoad(63, 64)).Skip(50).ToList();
        Assert.All(alone, b => Assert.True(b is { TotalTokens: >= 8 }, $"{b} alone"));
        Assert.True(busy.Average(b => b?.TotalTokens ?? 1) < alone.Average(b => b!.Value.TotalTokens), "smaller trees beside 7 others");
        Assert.All(full.Where(b => b is not null), b => Assert.Equal(new TreeBudget(2, 0), b));
        Assert.True(full.Count(b => b is not null) <= 150 / SpeculationPolicy.ProbeInterval + 2, $"{full.Count(b => b is not null)} drafted rounds beside 63 others");
    }

    [Fact]
    public void Where_verification_is_free_a_full_batch_keeps_its_trees()
    {
        // 7 others' tokens ride along either way, so the 32-token tree (7 drafts deep) and the 60-token one (8) are
        // within 1% of each other; what matters is that nothing shrinks towards the small trees.
        var chosen = Run(SpeculationPolicy.Adaptive(Largest, GpuLike()), 40, b => b.MaxAccepted, new BatchLoad(7, 8));
        Assert.All(chosen.Skip(10), b => Assert.True(b is { TotalTokens: >= 32 }, $"{b} beside 7 others"));
    }

    [Fact]
    public void When_verification_is_steep_a_good_head_gets_a_small_tree()
    {
        var policy = SpeculationPolicy.Adaptive(Largest, Steep());
        var chosen = Run(policy, 60, b => b.MaxAccepted);
        var late = chosen.Skip(20).ToList();
        Assert.All(late, b => Assert.NotNull(b));
        Assert.All(late, b => Assert.True(b!.Value.TotalTokens is > 2 and <= 8, $"{b} on a steep curve"));
    }

    [Fact]
    public void Acceptance_that_returns_after_a_bad_stretch_brings_drafting_back_within_one_probe()
    {
        var policy = SpeculationPolicy.Adaptive(Largest, CpuLike());
        Run(policy, 200, _ => 0);
        var chosen = Run(policy, 80, b => b.MaxAccepted);
        int firstDraft = chosen.FindIndex(b => b is not null);
        Assert.InRange(firstDraft, 0, SpeculationPolicy.MaxProbeInterval);
        Assert.All(chosen.Skip(firstDraft + 20), b => Assert.NotNull(b));
    }

    [Fact]
    public void Expected_tokens_follow_the_observed_acceptance_per_depth()
    {
        var policy = SpeculationPolicy.Adaptive(new TreeBudget(4, 1), GpuLike());
        Assert.Equal(1 + 0.6 + 0.36, policy.ExpectedTokens(1), 9);           // the prior before any round
        for (int i = 0; i < 200; i++) policy.Observe(new TreeBudget(4, 1), 1); // depth 1 always, depth 2 never
        Assert.InRange(policy.ExpectedTokens(1), 1.9, 2.1);
        Assert.InRange(policy.ExpectedTokens(0), 1.9, 2.0);                  // the chain of one borrows the wider tree's depth-1 rate
    }

    [Fact]
    public void A_fixed_tree_always_answers_its_one_size()
    {
        var policy = SpeculationPolicy.For(new TreeSettings { TotalTokens = 12, Depth = 3 }, 12, costs: null);
        Assert.All(Run(policy, 20, _ => 0), b => Assert.Equal(new TreeBudget(12, 3), b));
    }

    [Fact]
    public void An_adaptive_tree_without_measured_costs_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentNullException>(() => SpeculationPolicy.For(TreeSettings.AdaptiveDefault, 60, costs: null));
        Assert.Contains("SpeculationCosts", e.Message);
    }

    [Fact]
    public void A_static_tree_is_drafted_whole_or_not_at_all()
    {
        var policy = SpeculationPolicy.For(TreeSettings.Static() with { Adaptive = true }, 26, CpuLike());
        Assert.Equal([new TreeBudget(26, 4)], policy.Menu);
    }
}
