using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Drafting;

namespace Eagle.AI.Engine.Tests.Decoding;

// A request that shares a prefix with a finished one starts from its K/V (and draft state) and decodes exactly as if it
// had prefilled everything.
public sealed class PrefixReuseTests
{
    private static readonly GenerationOptions Greedy = new() { MaxNewTokens = 10, StopTokenIds = [] };

    // Turn 1, then turn 2 = turn 1's prompt + its answer + more: the second turn reuses all it can.
    [Theory]
    [InlineData(null, TreeKind.Dynamic)]
    [InlineData(EagleHeadKind.Eagle3, TreeKind.Dynamic)]
    [InlineData(EagleHeadKind.Eagle1, TreeKind.Static)]
    public void A_follow_up_turn_reuses_the_previous_turn_and_decodes_the_same(EagleHeadKind? kind, TreeKind tree)
    {
        using var target = TestModels.Create("B", seed: 6);
        using var inner = kind is { } k
            ? new EagleDrafter(DraftingFixtures.Head(k, target), tree == TreeKind.Static ? TreeSettings.Static() : new TreeSettings { TotalTokens = 12, Depth = 3, TopK = 3 })
            : null;
        using var drafter = inner is null ? null : new TreeRecorder(inner);
        var random = new Random(3);
        int[] turn1 = TestModels.RandomPrompt(random, 20, target.Config.VocabSize);
        DecodingSession Start(int[] prompt, RetainedSequence? reuse) => drafter is null
            ? new VanillaGenerator(target).Start(prompt, Greedy, reuse: reuse)
            : new SpeculativeGenerator(target, drafter).Start(prompt, Greedy, reuse: reuse);

        RetainedSequence retained;
        int[] answer;
        using (var first = Start(turn1, null))
        {
            while (!first.Done) first.Step();
            answer = [.. first.Output];
            retained = first.Retain()!;
        }
        using var _ = retained;
        Assert.Equal(turn1.Length + answer.Length - 1, retained.Tokens.Count);    // the last token was never fed
        Assert.Equal([.. turn1, .. answer[..^1]], retained.Tokens);

        int[] turn2 = [.. turn1, .. answer, .. TestModels.RandomPrompt(random, 6, target.Config.VocabSize)];
        drafter?.Trees.Clear();
        using var fresh = Start(turn2, null);
        while (!fresh.Done) fresh.Step();
        var freshTrees = drafter?.Trees.ToList();
        drafter?.Trees.Clear();
        using var reusing = Start(turn2, retained);
        while (!reusing.Done) reusing.Step();

        Assert.Equal(fresh.Result.OutputIds, reusing.Result.OutputIds);
        if (drafter is not null)                                                    // the head saw the same pairs: the same drafts
            Assert.Equal(freshTrees!.Select(t => string.Join(",", t)), drafter.Trees.Select(t => string.Join(",", t)));
        Assert.Equal(0, fresh.Result.Stats.CachedPromptTokens);
        int cached = reusing.Result.Stats.CachedPromptTokens;
        // vanilla reuses every fed token; a speculative session every draft pair whose next token is still shared (the
        // last round's tokens reached the draft state when the first session was retained)
        Assert.Equal(drafter is null ? retained.Tokens.Count : retained.Tokens.Count - 1, cached);
        Assert.True(reusing.Result.Stats.TargetForwards <= fresh.Result.Stats.TargetForwards);
    }

    [Fact]
    public void Seeded_sampling_gives_the_same_tokens_with_and_without_reuse()
    {
        using var target = TestModels.Create("A", seed: 8);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 10, Depth = 3, TopK = 3 });
        var generator = new SpeculativeGenerator(target, drafter);
        var sampled = Greedy with { Sampling = new SamplingOptions { Temperature = 0.8f, TopP = 0.9f, Seed = 5 } };
        int[] shared = TestModels.RandomPrompt(new Random(1), 24, target.Config.VocabSize);
        RetainedSequence retained;
        using (var first = generator.Start([.. shared, 40], sampled))
        {
            while (!first.Done) first.Step();
            retained = first.Retain()!;
        }
        using var _ = retained;
        int[] second = [.. shared, 41, 42];                                        // another question after the same prefix
        using var fresh = generator.Start(second, sampled);
        while (!fresh.Done) fresh.Step();
        using var reusing = generator.Start(second, sampled, reuse: retained);
        while (!reusing.Done) reusing.Step();
        Assert.Equal(fresh.Result.OutputIds, reusing.Result.OutputIds);
        Assert.Equal(23, reusing.Result.Stats.CachedPromptTokens);                   // up to the last shared token's pair
    }

    [Fact]
    public void The_cache_finds_the_longest_shared_prefix_and_evicts_the_least_recently_used()
    {
        using var target = TestModels.Create("A", seed: 2);
        RetainedSequence Finished(int[] prompt) => Retained(new VanillaGenerator(target), prompt);
        int[] a = [.. Enumerable.Range(10, 12)], b = [.. Enumerable.Range(40, 12)];
        var first = Finished(a);
        using var cache = new PrefixCache(budgetPositions: 2 * first.Positions + 3);         // two of these, or one and a slightly longer one
        cache.Add(first);
        cache.Add(Finished(b));
        Assert.Equal(2, cache.Count);
        Assert.Same(first, cache.Find([.. a, 1, 2], speculative: false));             // a's prefix; a is now the most recent
        Assert.Null(cache.Find([.. a[..5], 1, 2, 3], speculative: false));           // 5 shared tokens: below the minimum
        Assert.Null(cache.Find([.. a, 1, 2], speculative: true));                     // no drafting state to continue
        cache.Add(Finished([.. Enumerable.Range(70, 12)]));                           // over budget: b (least recent) goes
        Assert.Equal(2, cache.Count);
        Assert.Null(cache.Find([.. b, 1], speculative: false));
        Assert.NotNull(cache.Find([.. a, 1], speculative: false));
        cache.Add(Finished([.. a, 5, 6, 7]));                                         // extends a: a is dropped as redundant
        Assert.Equal(2, cache.Count);
        Assert.True(cache.Positions <= cache.BudgetPositions);
    }

    // A request that reserved room for a long answer and stopped early is kept at the size of what it holds, draft cache
    // included, and a later request still reuses all of it.
    [Fact]
    public void A_retained_sequence_holds_only_its_tokens_not_the_room_its_request_reserved()
    {
        using var target = TestModels.Create("B", seed: 6);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 12, Depth = 3, TopK = 3 });
        var generator = new SpeculativeGenerator(target, drafter);
        int[] prompt = TestModels.RandomPrompt(new Random(9), 16, target.Config.VocabSize);
        var options = Greedy with { MaxNewTokens = 200 };
        int seen = 0;
        using var first = generator.Start(prompt, options, ids => (seen += ids.Count) < 5);
        Assert.True(first.Capacity >= 16 + 200);
        while (!first.Done) first.Step();
        using var retained = first.Retain()!;
        Assert.Equal(retained.Tokens.Count, retained.Positions);                     // trimmed: no reserved room kept
        Assert.Equal(retained.Tokens.Count, retained.Cache.Capacity);
        Assert.Equal(retained.Tokens.Count, retained.DraftState!.CommittedLength);     // every committed pair came along (the last with the unfed token)

        int[] next = [.. retained.Tokens, 7, 8];
        using var reusing = generator.Start(next, Greedy, reuse: retained);
        while (!reusing.Done) reusing.Step();
        Assert.Equal(retained.Tokens.Count - 1, reusing.Result.Stats.CachedPromptTokens);
        Assert.Equal(new VanillaGenerator(target).Generate(next, Greedy).OutputIds, reusing.Result.OutputIds);
    }

    [Fact]
    public void The_default_budget_is_a_quarter_of_the_memory_the_weights_leave()
    {
        const long GiB = 1L << 30;
        long llama8bPosition = KVCache.BytesFor(32, 8, 128, 1, TorchSharp.torch.ScalarType.BFloat16);      // 128 KiB
        Assert.Equal(16384, PrefixCache.SizedFor(24 * GiB, 16 * GiB, llama8bPosition));   // 8B in bf16 on a 24 GB machine: 2 GiB of KV
        Assert.Equal(32768, PrefixCache.SizedFor(24 * GiB, 8 * GiB, llama8bPosition));
        Assert.Equal(PrefixCache.FallbackBudgetPositions / 16, PrefixCache.SizedFor(16 * GiB, 17 * GiB, llama8bPosition)); // no room: a floor
        Assert.Equal(PrefixCache.MaxSizedBudgetPositions, PrefixCache.SizedFor(1024 * GiB, GiB, 1024));
        Assert.Equal(PrefixCache.FallbackBudgetPositions, PrefixCache.SizedFor(null, GiB, llama8bPosition)); // memory not measurable
        Assert.Throws<ArgumentOutOfRangeException>(() => PrefixCache.SizedFor(GiB, 0, 0));
    }

    [Fact]
    public void A_conversation_pin_outlasts_unpinned_entries_and_keeps_only_its_newest()
    {
        using var target = TestModels.Create("A", seed: 2);
        RetainedSequence Finished(int[] prompt) => Retained(new VanillaGenerator(target), prompt);
        int[] pinned = [.. Enumerable.Range(10, 12)];
        var first = Finished(pinned);
        using var cache = new PrefixCache(budgetPositions: 2 * first.Positions + 3);
        cache.Add(first, conversationId: "chat-1");
        cache.Add(Finished([.. Enumerable.Range(40, 12)]));
        cache.Add(Finished([.. Enumerable.Range(70, 12)]));                            // over budget: an unpinned one goes, not the pin
        Assert.Same(first, cache.Find([.. pinned, 1], speculative: false));
        Assert.True(cache.IsPinned(first));
        var other = Finished([.. Enumerable.Range(20, 12)]);
        cache.Add(other, conversationId: "chat-1");                                  // the conversation moved on: its old entry goes
        Assert.Null(cache.Find([.. pinned, 1], speculative: false));
        Assert.Same(other, cache.Find([.. Enumerable.Range(20, 12), 1], speculative: false));
        Assert.True(cache.Positions <= cache.BudgetPositions);
    }

    [Fact]
    public void A_session_mid_step_retains_nothing_and_an_unrelated_prompt_reuses_nothing()
    {
        using var target = TestModels.Create("A", seed: 2);
        var vanilla = new VanillaGenerator(target);
        using var s = vanilla.Start([.. Enumerable.Range(10, 12)], Greedy);
        s.Step();
        _ = s.Plan();                                                                  // a forward that never completed
        Assert.Null(s.Retain());

        using var done = vanilla.Start([.. Enumerable.Range(10, 12)], Greedy);
        while (!done.Done) done.Step();
        using var retained = done.Retain()!;
        Assert.Null(done.Retain());                                                    // once only
        using var other = vanilla.Start([.. Enumerable.Range(50, 12)], Greedy, reuse: retained);
        while (!other.Done) other.Step();
        Assert.Equal(0, other.Result.Stats.CachedPromptTokens);
        Assert.Equal(vanilla.Generate([.. Enumerable.Range(50, 12)], Greedy).OutputIds, other.Result.OutputIds);
    }

    // A request that ended early (cancelled between steps, or cut by a stop id in the middle of a speculative round)
    // leaves exactly its committed, emitted tokens; two later sessions may start from the same entry at once.
    [Fact]
    public void Early_ends_leave_only_committed_tokens_and_one_entry_serves_concurrent_sessions()
    {
        using var target = TestModels.Create("A", seed: 11);
        int[] prompt = TestModels.RandomPrompt(new Random(4), 14, target.Config.VocabSize);
        var options = new GenerationOptions { MaxNewTokens = 30, StopTokenIds = [] };
        var expected = new VanillaGenerator(target).Generate(prompt, options).OutputIds;

        // an oracle drafter: whole chains accepted, so the stop id below falls inside a round
        using var oracle = new OracleDrafter([.. prompt, .. expected], 0, 4, target.Config.VocabSize, seed: 1);
        var stopAt = expected[6];
        var cut = options with { StopTokenIds = [stopAt] };
        using var stopped = new SpeculativeGenerator(target, oracle).Start(prompt, cut);
        while (!stopped.Done) stopped.Step();
        Assert.Equal(stopAt, stopped.Output[^1]);
        using var afterStop = stopped.Retain()!;
        Assert.Equal(prompt.Concat(stopped.Output).Take(afterStop.Tokens.Count), afterStop.Tokens);
        Assert.InRange(afterStop.Tokens.Count, prompt.Length + stopped.Output.Count - 1, prompt.Length + stopped.Output.Count);

        // cancelled after three steps: whatever was fed so far, and nothing of a round in flight
        var vanilla = new VanillaGenerator(target);
        using var cancelled = vanilla.Start(prompt, options);
        for (int i = 0; i < 3; i++) cancelled.Step();
        using var afterCancel = cancelled.Retain()!;
        Assert.Equal([.. prompt, .. expected.Take(2)], afterCancel.Tokens);

        // two sessions of one batch start from the same entry and continue differently
        int[] a = [.. prompt, .. expected.Take(3), 50], b = [.. prompt, .. expected.Take(3), 60];
        using var sa = vanilla.Start(a, options, reuse: afterCancel);
        using var sb = vanilla.Start(b, options, reuse: afterCancel);
        Assert.Equal(afterCancel.Tokens.Count, sa.CachedPromptTokens);
        Assert.Equal(afterCancel.Tokens.Count, sb.CachedPromptTokens);
        while (!sa.Done || !sb.Done) DecodingSession.Step(new DecodingSession[] { sa, sb }.Where(s => !s.Done).ToArray());
        Assert.Equal(vanilla.Generate(a, options).OutputIds, sa.Result.OutputIds);
        Assert.Equal(vanilla.Generate(b, options).OutputIds, sb.Result.OutputIds);
    }

    // The sequence a two-token greedy answer to prompt leaves behind.
    private static RetainedSequence Retained(VanillaGenerator vanilla, int[] prompt)
    {
        using var s = vanilla.Start(prompt, Greedy with { MaxNewTokens = 2 });
        while (!s.Done) s.Step();
        return s.Retain()!;
    }
}
