using Eagle.AI.Engine.Drafting;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// Decides, round by round, how big a draft tree to verify — or whether to draft at all — from what a round costs on
/// this device (<see cref="SpeculationCosts"/>, measured at load) and what this request's drafts have been accepted so
/// far. One policy object per request; a fixed tree is the degenerate policy that always answers its one size.
/// </summary>
/// <remarks>
/// <para>The rule. Candidate sizes are a short menu from a one-draft chain up to the configured tree
/// (<see cref="Menu"/>). For each, the expected tokens a round yields are E = 1 + Σ_{j ≤ D+1} Π_{i ≤ j} a_i, where a_i
/// is the observed chance that a round which reached draft depth i − 1 also accepts depth i (the bonus token makes the
/// 1). The policy picks the size with the most E per millisecond of <see cref="SpeculationCosts.RoundMs"/>, or a plain
/// one-token step when none beats 1 ÷ <see cref="SpeculationCosts.StepMs"/>.</para>
/// <para>The estimates. a_i is counted per menu size as exponentially decayed counts (factor <see cref="Decay"/> per
/// round, so the policy follows the request as it changes). The counts of all sizes pooled give a rate shrunk towards
/// the rate one depth up (worth <see cref="PriorWeight"/> rounds; <see cref="PriorAcceptance"/> at the top); each
/// size's own counts are shrunk towards that pooled rate. A wider tree holds a narrower one's nodes, so a size takes
/// the best own estimate among the sizes up to it, else the pooled rate. A depth no round has reached thus takes the
/// rate one depth up: optimistic where drafts land, so bigger trees get tried, and pessimistic where they do not.</para>
/// <para>Under load. In a batch, a round's tree rides in a forward that already carries the other sessions' B tokens
/// (<see cref="BatchLoad"/>), and its draft time delays every session of the step. The policy then maximizes the
/// step's tokens per millisecond: (n − 1 + E) ÷ (C(B + T) + draft and bookkeeping time) for a tree of T tokens against
/// n ÷ C(B + 1) for a plain step, n being the sessions of the step (each other one counted as one token) and C the
/// measured forward time (<see cref="SpeculationCosts.Verify"/>, extended linearly past 64 tokens). Alone (B = 0,
/// n = 1) this is exactly the rule above; with a full batch on a device whose forward time grows with its tokens, the
/// trees shrink and then stop.</para>
/// <para>Remembered. With an <see cref="AcceptanceMemory"/> (one per engine or generator), a request starts from what
/// the requests before it saw of the head — the first draft's acceptance in place of <see cref="PriorAcceptance"/>, and
/// the probe interval they had reached — so only the first request pays to learn a head that is never accepted.</para>
/// <para>Never losing. While plain steps win, the policy still probes: the smallest size every
/// <see cref="ProbeInterval"/> plain steps, the interval doubling after each failed probe up to
/// <see cref="MaxProbeInterval"/>. A head that accepts nothing therefore costs one small round in 32 steps (a few per
/// cent), and a head that starts being accepted is noticed within one probe. In a batch of n sessions a probe delays
/// all of them, so the interval may grow to n × <see cref="MaxProbeInterval"/>. And a session past half its interval
/// probes early when another session of the step drafts anyway (<see cref="BatchLoad.Drafting"/>): its smallest tree
/// then adds one token to a step that is already long and one row to a head forward that runs anyway, so the batch's
/// probes gather in few steps instead of each one stretching a step of its own.</para>
/// <para>Repaid. The first draft after a long stretch the head has not seen (a long prompt) pays that catch-up once, so
/// a size is drafted only if what it saves over the tokens the request may still produce (its per-token time against a
/// plain step's, times those tokens) exceeds that catch-up; a short answer to a long prompt is decoded plainly.</para>
/// <para>Catching up. A probe also makes the head catch up on every token committed since it last drafted (the prompt,
/// for a first probe): one head forward over all of them, <see cref="SpeculationCosts.CatchUpMsPerToken"/> each. So a
/// probe also waits until that catch-up is at most <see cref="ProbeBudget"/> of the plain time since the last draft
/// (each plain step counted as this session's share of its forward). Alone that delays a probe a few steps (after a
/// long prompt, a few hundred); in a batch, where a plain step's share is a fraction of a forward while every session's
/// catch-up grows a token a step, a head that is not accepted is not probed at all until the load drops, instead of
/// costing the batch its catch-ups.</para>
/// </remarks>
internal sealed class SpeculationPolicy
{
    /// <summary>Per-round decay of the acceptance counts.</summary>
    public const double Decay = 0.95;
    /// <summary>Prior chance of accepting the next depth.</summary>
    public const double PriorAcceptance = 0.6;
    /// <summary>Rounds' worth of weight the prior carries.</summary>
    public const double PriorWeight = 2.0;
    /// <summary>Plain steps before the first probe.</summary>
    public const int ProbeInterval = 4;
    /// <summary>The longest interval between probes.</summary>
    public const int MaxProbeInterval = 32;
    /// <summary>The most a probe's head catch-up may cost, as a share of the plain time since the last draft.</summary>
    public const double ProbeBudget = 0.03;

    private readonly SpeculationCosts? costs;
    private readonly double[][] reached, accepted;                // [size][depth − 1], decayed counts
    private readonly bool[] tried;
    private readonly AcceptanceMemory? memory;
    private readonly double prior;                                // the chance of accepting the first draft before any round
    private int plainSteps, probeInterval;
    private double plainMs;                                       // this session's share of the plain steps since the last draft

    private SpeculationPolicy(IReadOnlyList<TreeBudget> menu, SpeculationCosts? costs, AcceptanceMemory? memory = null)
    {
        Menu = menu;
        this.costs = costs;
        this.memory = memory;
        prior = memory?.FirstDraftRate ?? PriorAcceptance;
        probeInterval = memory?.ProbeInterval ?? ProbeInterval;
        reached = menu.Select(b => new double[b.MaxAccepted]).ToArray();
        accepted = menu.Select(b => new double[b.MaxAccepted]).ToArray();
        tried = new bool[menu.Count];
    }

    /// <summary>Always the same tree (a fixed <see cref="TreeSettings"/>, or test drafters).</summary>
    public static SpeculationPolicy Fixed(TreeBudget budget) => new([budget], null);

    /// <summary>Adapts between no tree and <paramref name="largest"/> using <paramref name="costs"/>.</summary>
    /// <param name="largest">The configured tree.</param>
    /// <param name="costs">This device's measured round costs.</param>
    /// <param name="memory">What earlier requests learned about the head (null = the fixed prior).</param>
    public static SpeculationPolicy Adaptive(TreeBudget largest, SpeculationCosts costs, AcceptanceMemory? memory = null)
    {
        ArgumentNullException.ThrowIfNull(costs);
        return new(MenuUpTo(largest), costs, memory);
    }

    /// <summary>The policy for a drafter's tree <paramref name="settings"/> (of at most <paramref name="maxTreeTokens"/>
    /// tokens): adaptive when the settings say so, then with <paramref name="costs"/>, which is required.</summary>
    /// <exception cref="ArgumentNullException">An adaptive tree without costs.</exception>
    public static SpeculationPolicy For(TreeSettings settings, int maxTreeTokens, SpeculationCosts? costs, AcceptanceMemory? memory = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var largest = settings.Kind == TreeKind.Static
            ? new TreeBudget(maxTreeTokens, settings.EffectiveChoices.Max(c => c.Length) - 1)
            : new TreeBudget(settings.TotalTokens, settings.Depth);
        if (!settings.Adaptive) return Fixed(largest);
        if (costs is null)
            throw new ArgumentNullException(nameof(costs), "an adaptive tree needs the measured speculation costs (SpeculationCosts.Measure)");
        // A static tree's draft cost is fixed by its shape: it can only be drafted whole or not at all.
        return settings.Kind == TreeKind.Static ? new([largest], costs, memory) : Adaptive(largest, costs, memory);
    }

    /// <summary>The sizes this policy chooses from, smallest first.</summary>
    public IReadOnlyList<TreeBudget> Menu { get; }

    /// <summary>Rounds that drafted a tree.</summary>
    public int DraftedRounds { get; private set; }

    /// <summary>Rounds that took one plain step because no tree was expected to pay.</summary>
    public int PlainRounds { get; private set; }

    /// <summary>Rounds per chosen tree size (tokens verified, root included).</summary>
    public IReadOnlyDictionary<int, int> TreeSizes => sizes;
    private readonly SortedDictionary<int, int> sizes = [];

    /// <summary>
    /// Menu sizes up to <paramref name="largest"/>: 2, 3, 4, 6, 8, 16, 32 tokens, then the largest itself. The small
    /// trees are deep for their size (a chain of 2 to 5 drafts with a little width): where verifying costs grow with the
    /// tokens (a CPU), depth is what a good head pays back, and a small tree's head steps feed only as many rows as it
    /// keeps nodes (<see cref="DynamicTree.BeamWidth"/>).
    /// </summary>
    public static IReadOnlyList<TreeBudget> MenuUpTo(TreeBudget largest)
    {
        TreeBudget[] ladder = [new(2, 0), new(3, 1), new(4, 2), new(6, 3), new(8, 4), new(16, 5), new(32, 6)];
        var menu = ladder.Where(b => b.TotalTokens < largest.TotalTokens)
            .Select(b => b with { Depth = Math.Min(b.Depth, largest.Depth) }).ToList();
        menu.Add(largest);
        return menu;
    }

    /// <summary>
    /// This round's tree, or null for a plain one-token step; <paramref name="load"/> is the rest of the batch (null =
    /// alone), <paramref name="pendingTokens"/> the committed tokens the head has not seen yet (what drafting now would
    /// make it catch up on), <paramref name="remainingTokens"/> the most tokens the request may still produce (null =
    /// unknown).
    /// </summary>
    public TreeBudget? Next(BatchLoad? load = null, int pendingTokens = 0, int? remainingTokens = null)
    {
        var l = load ?? BatchLoad.Alone;
        int choice = Best(l);
        if (choice >= 0 && remainingTokens is { } left && !CatchUpRepaid(choice, l, pendingTokens, left)) choice = -1;
        // A probe in a batch delays every session of its step, so beside n − 1 others the interval may grow n times as
        // long: the batch pays about what one session alone pays for its probes.
        int longest = MaxProbeInterval * Math.Max(1, l.Sessions);
        int due = Math.Min(probeInterval, longest);
        if (choice < 0 && costs is not null) plainMs += costs.Verify.Milliseconds(l.OtherTokens + 1) / Math.Max(1, l.Sessions);
        if (choice < 0 && (++plainSteps >= due || l.Drafting && 2 * plainSteps >= due) && CatchUpAffordable(pendingTokens))
        {
            choice = 0;                                                         // probe with the smallest tree
            probeInterval = Math.Min(2 * probeInterval, longest);
            memory?.ProbesFailing(Math.Min(probeInterval, MaxProbeInterval));     // what a request alone would wait
        }
        if (choice < 0)
        {
            PlainRounds++;
            return null;
        }
        plainSteps = 0;
        plainMs = 0;
        DraftedRounds++;
        var b = Menu[choice];
        sizes[b.TotalTokens] = sizes.GetValueOrDefault(b.TotalTokens) + 1;
        return b;
    }

    // Whether drafting at size s now, and from then on, saves more over the tokens left than the head's catch-up on the
    // tokens it has not seen costs: a round's own first head step covers what the last round committed (up to its
    // deepest accept and the bonus), the rest is extra — after a long prompt, a forward over all of it. Each own token
    // of a drafted round costs its step ÷ E against a plain step's time, as in Best. So a short answer to a long prompt
    // is decoded plainly instead of paying the head's prompt pass for a few rounds (2,000 tokens, 16 new on llama3-1b:
    // 0.45× vanilla before), while a long one still drafts from the first round.
    private bool CatchUpRepaid(int s, BatchLoad load, int pendingTokens, int remainingTokens)
    {
        var b = Menu[s];
        int extra = pendingTokens - (b.MaxAccepted + 1);
        if (costs is null || costs.CatchUpMsPerToken <= 0 || extra <= 0) return true;
        double savedPerToken = costs.Verify.Milliseconds(load.OtherTokens + 1) - DraftedStepMs(costs, load, b) / ExpectedTokens(s);
        return savedPerToken * remainingTokens > costs.CatchUpMsPerToken * extra;
    }

    // Whether feeding the head the tokens it has not seen yet costs at most ProbeBudget of the plain time since it last drafted.
    private bool CatchUpAffordable(int pendingTokens) =>
        costs is null || costs.CatchUpMsPerToken * pendingTokens <= ProbeBudget * plainMs;

    /// <summary>Records that a round with <paramref name="budget"/> accepted <paramref name="acceptedDrafts"/> drafted tokens.</summary>
    public void Observe(TreeBudget budget, int acceptedDrafts)
    {
        int s = IndexOf(budget);
        if (s < 0) return;                                                      // a drafter's own tree (test drafters)
        tried[s] = true;
        for (int m = 0; m < Menu.Count; m++)
            for (int d = 0; d < reached[m].Length; d++)
            {
                reached[m][d] *= Decay;
                accepted[m][d] *= Decay;
            }
        for (int d = 0; d < reached[s].Length && d <= acceptedDrafts; d++)
        {
            reached[s][d] += 1;
            if (d < acceptedDrafts) accepted[s][d] += 1;
        }
        if (acceptedDrafts > 0) probeInterval = ProbeInterval;                  // drafts land again: probe eagerly next time
        memory?.Observe(acceptedDrafts);
    }

    /// <summary>Expected tokens (accepted drafts + the bonus) of one round at menu size <paramref name="s"/>.</summary>
    public double ExpectedTokens(int s)
    {
        double expected = 1, chain = 1, rate = prior;
        for (int d = 0; d < Menu[s].MaxAccepted; d++)
        {
            rate = Rate(s, d, rate);
            chain *= rate;
            expected += chain;
        }
        return expected;
    }

    // The menu index whose step yields the most tokens per millisecond, or −1 when a plain step does (see "Under load";
    // alone, the most expected tokens per millisecond of a round).
    private int Best(BatchLoad load)
    {
        if (costs is null) return 0;
        int best = -1;
        int others = load.Sessions - 1;
        double bestRate = load.Sessions / costs.Verify.Milliseconds(load.OtherTokens + 1);
        for (int s = 0; s < Menu.Count; s++)
        {
            var b = Menu[s];
            double rate = (others + ExpectedTokens(s)) / DraftedStepMs(costs, load, b);
            if (rate > bestRate)
            {
                best = s;
                bestRate = rate;
            }
        }
        return best;
    }

    // A step in which this session drafts and verifies b beside the others' tokens: the forward over all of them, plus
    // the round's drafting and bookkeeping (its own verify forward is the part the batch's forward replaces).
    private static double DraftedStepMs(SpeculationCosts costs, BatchLoad load, TreeBudget b) =>
        costs.Verify.Milliseconds(load.OtherTokens + b.TotalTokens) + costs.RoundMs(b) - costs.Verify.Milliseconds(b.TotalTokens);

    // Acceptance at depth d + 1 given depth d was reached, for size s. All sizes' counts pooled give a rate shrunk
    // towards `shallower` (the rate one depth up; the prior at the top); each size's own counts are shrunk towards that
    // pooled rate. A wider tree contains a narrower one's nodes, so it accepts at least as often: size s takes the best
    // own estimate among the sizes up to it, else the pooled rate.
    private double Rate(int s, int d, double shallower)
    {
        double reachedAll = 0, acceptedAll = 0;
        for (int m = 0; m < Menu.Count; m++)
            if (d < reached[m].Length)
            {
                reachedAll += reached[m][d];
                acceptedAll += accepted[m][d];
            }
        double pooled = (acceptedAll + shallower * PriorWeight) / (reachedAll + PriorWeight);
        double? best = null;
        for (int m = 0; m <= s; m++)
            if (tried[m] && d < reached[m].Length && reached[m][d] > 0.05)
            {
                double own = (accepted[m][d] + pooled * PriorWeight) / (reached[m][d] + PriorWeight);
                if (best is null || own > best) best = own;
            }
        return best ?? pooled;
    }

    private int IndexOf(TreeBudget budget)
    {
        for (int i = 0; i < Menu.Count; i++)
            if (Menu[i] == budget) return i;
        return -1;
    }
}

/// <summary>What the rest of a batched step carries besides one session's tokens.</summary>
/// <param name="OtherTokens">Tokens the other sessions put in the step's forward.</param>
/// <param name="Sessions">Sessions in the step, this one included.</param>
/// <param name="Drafting">Whether a session decided before this one drafts a tree in this step.</param>
internal readonly record struct BatchLoad(int OtherTokens, int Sessions, bool Drafting = false)
{
    /// <summary>A session alone in its step.</summary>
    public static readonly BatchLoad Alone = new(0, 1);
}
