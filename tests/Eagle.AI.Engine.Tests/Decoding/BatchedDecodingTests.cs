using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Tests.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

// Many sessions through one forward: each must come out exactly as if it had run alone.
public sealed class BatchedDecodingTests
{
    [Theory]
    [InlineData("A")]
    [InlineData("B")]
    public void A_batched_forward_gives_each_sequence_its_solo_output(string config)
    {
        using var target = TestModels.Create(config, seed: 5);
        using var guard = no_grad();
        var random = new Random(2);
        var request = new ForwardRequest(CaptureLayers: [0, 1], FinalHidden: true);
        int[][] prefixes = [TestModels.RandomPrompt(random, 6, 90), TestModels.RandomPrompt(random, 3, 90), TestModels.RandomPrompt(random, 9, 90)];
        int[] news = [4, 1, 3];                                                    // a chunk, one token, a tree-like chunk

        // Solo: prefill each prefix, then its new tokens alone.
        var solo = new List<(float[] Logits, float[] Captured, float[] Hidden)>();
        var caches = new List<KVCache>();
        for (int j = 0; j < prefixes.Length; j++)
        {
            using var cache = TestModels.Prefilled(target, prefixes[j]);
            using var o = target.Forward(Ids(random, news[j], j), HeldScalars.Range(prefixes[j].Length, prefixes[j].Length + news[j]), cache, null, request);
            solo.Add((o.Logits.data<float>().ToArray(), o.Captured!.data<float>().ToArray(), o.FinalHidden!.data<float>().ToArray()));
        }

        // Batched: the same three in one forward (the id streams are re-seeded so they repeat).
        var items = new List<ForwardItem>();
        for (int j = 0; j < prefixes.Length; j++)
        {
            caches.Add(TestModels.Prefilled(target, prefixes[j]));
            items.Add(new ForwardItem(Ids(random, news[j], j), HeldScalars.Range(prefixes[j].Length, prefixes[j].Length + news[j]), caches[j], null, request));
        }
        var batched = target.Forward(items);
        for (int j = 0; j < prefixes.Length; j++)
        {
            Assert.Equal(prefixes[j].Length + news[j], caches[j].Length);
            AssertClose(solo[j].Logits, batched[j].Logits.data<float>().ToArray(), $"logits of sequence {j}");
            AssertClose(solo[j].Captured, batched[j].Captured!.data<float>().ToArray(), $"features of sequence {j}");
            AssertClose(solo[j].Hidden, batched[j].FinalHidden!.data<float>().ToArray(), $"hidden states of sequence {j}");
            Assert.Equal(news[j], batched[j].Logits.shape[0]);
            batched[j].Dispose();
            caches[j].Dispose();
        }
    }

    [Fact]
    public void A_batched_forward_refuses_a_shared_cache_and_mixed_feature_requests()
    {
        using var target = TestModels.Create("A");
        using var guard = no_grad();
        using var cache = target.NewCache(8);
        using var other = target.NewCache(8);
        using var ids = tensor(new long[] { 1 });
        using var pos = HeldScalars.Range(0, 1);
        Assert.Throws<ArgumentException>(() => target.Forward([new(ids, pos, cache, null, ForwardRequest.AllLogits), new(ids, pos, cache, null, ForwardRequest.AllLogits)]));
        Assert.Throws<ArgumentException>(() => target.Forward([
            new(ids, pos, cache, null, new ForwardRequest(CaptureLayers: [0])), new(ids, pos, other, null, new ForwardRequest(CaptureLayers: [1]))]));
        Assert.Throws<ArgumentException>(() => target.Forward(Array.Empty<ForwardItem>()));
        Assert.Equal(0, cache.Length);                                              // refused before anything was written
    }

    // Greedy and seeded sampled, vanilla and speculative (EAGLE-3 dynamic, EAGLE-1 static), different prompt lengths,
    // budgets and stop points, members joining while others decode and one stopped by its consumer midway; and the
    // same with the one-token sessions' attention gathered into one call, as on a GPU.
    [Theory]
    [InlineData("A", false)]
    [InlineData("C", false)]
    [InlineData("A", true)]
    [InlineData("C", true)]
    public void Every_session_of_a_batch_gives_its_solo_output(string config, bool gathered)
    {
        using var target = TestModels.Create(config, seed: 11);
        using var eagle3 = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 16, Depth = 4, TopK = 4 });
        using var eagle1 = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle1, target, seed: 3), TreeSettings.Static());
        var random = new Random(4);
        int vocab = target.Config.VocabSize;
        var sampled = new SamplingOptions { Temperature = 0.9f, TopP = 0.95f, Seed = 21 };
        var requests = new (int[] Prompt, GenerationOptions Options, IDrafter? Drafter, int Joins, int StopAfter)[]
        {
            (TestModels.RandomPrompt(random, 5, vocab), new() { MaxNewTokens = 14, StopTokenIds = [] }, null, 0, int.MaxValue),
            (TestModels.RandomPrompt(random, 11, vocab), new() { MaxNewTokens = 20, StopTokenIds = [] }, eagle3, 0, int.MaxValue),
            (TestModels.RandomPrompt(random, 3, vocab), new() { MaxNewTokens = 12, StopTokenIds = [], Sampling = sampled }, null, 2, int.MaxValue),
            (TestModels.RandomPrompt(random, 7, vocab), new() { MaxNewTokens = 16, StopTokenIds = [], Sampling = sampled }, eagle3, 1, int.MaxValue),
            (TestModels.RandomPrompt(random, 4, vocab), new() { MaxNewTokens = 18, StopTokenIds = [] }, eagle1, 3, int.MaxValue),
            (TestModels.RandomPrompt(random, 9, vocab), new() { MaxNewTokens = 30, StopTokenIds = [] }, eagle3, 0, 6),
        };

        DecodingSession Start(int j, Func<IReadOnlyList<int>, bool>? onTokens)
        {
            var (prompt, options, drafter, _, _) = requests[j];
            return drafter is null ? new VanillaGenerator(target).Start(prompt, options, onTokens)
                : new SpeculativeGenerator(target, drafter).Start(prompt, options, onTokens);
        }
        Func<IReadOnlyList<int>, bool> StopAfter(int limit)
        {
            int seen = 0;
            return ids => (seen += ids.Count) < limit;
        }

        var solo = new List<GenerationResult>();
        for (int j = 0; j < requests.Length; j++)
        {
            using var s = Start(j, StopAfter(requests[j].StopAfter));
            while (!s.Done) s.Step();
            solo.Add(s.Result);
        }

        var sessions = new DecodingSession?[requests.Length];
        var results = new GenerationResult?[requests.Length];
        target.GatherDecodeAttention = gathered;                                    // solo runs never gather: one sequence
        try
        {
            for (int step = 0; results.Any(r => r is null); step++)
            {
                for (int j = 0; j < requests.Length; j++)
                    if (sessions[j] is null && results[j] is null && requests[j].Joins == step) sessions[j] = Start(j, StopAfter(requests[j].StopAfter));
                var active = sessions.OfType<DecodingSession>().ToList();
                DecodingSession.Step(active);
                for (int j = 0; j < requests.Length; j++)
                {
                    if (sessions[j] is not { Done: true } done) continue;
                    results[j] = done.Result;
                    done.Dispose();
                    sessions[j] = null;                                             // leaves the batch at once
                }
            }
        }
        finally
        {
            foreach (var s in sessions) s?.Dispose();
        }

        for (int j = 0; j < requests.Length; j++)
        {
            Assert.Equal(solo[j].OutputIds, results[j]!.OutputIds);
            Assert.Equal(solo[j].FinishReason, results[j]!.FinishReason);
            Assert.Equal(solo[j].Stats.Rounds, results[j]!.Stats.Rounds);
        }
        Assert.Equal(FinishReason.Stop, results[5]!.FinishReason);                  // its consumer stopped it
        Assert.InRange(results[5]!.OutputIds.Count, 6, 6 + 16);
    }

    // The draft head runs batched too: each step drafts every speculative session of one drafter in one call (one head
    // forward per tree level), and every session still gets its solo output.
    [Fact]
    public void A_step_drafts_all_speculative_sessions_of_a_drafter_in_one_call()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var inner = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 10, Depth = 3, TopK = 3 });
        var drafter = new BatchRecorder(inner);
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        int[][] prompts = [[5, 9, 14], [7, 3, 2, 8, 1], [11, 4]];
        var solo = prompts.Select(p => new SpeculativeGenerator(target, inner).Generate(p, options).OutputIds).ToArray();
        DecodingSession[] sessions = [.. prompts.Select(p => new SpeculativeGenerator(target, drafter).Start(p, options)),
            new VanillaGenerator(target).Start([6, 6, 2], options)];
        try
        {
            int steps = 0;
            while (sessions.Any(s => !s.Done))
            {
                var active = sessions.Where(s => !s.Done).ToArray();
                int before = drafter.Calls.Count;
                DecodingSession.Step(active);
                steps++;
                // after the prefill, one draft call per step, for every speculative session in it
                int speculative = active.Count(s => s is SpeculativeSession);
                if (steps > 1 && speculative > 0) Assert.Equal([speculative], drafter.Calls.Skip(before));
                else Assert.Equal(before, drafter.Calls.Count);
            }
            for (int j = 0; j < prompts.Length; j++) Assert.Equal(solo[j], sessions[j].Result.OutputIds);
            Assert.Contains(3, drafter.Calls);
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
        }
    }

    // A prompt prefilled in chunks (the last one partial) gives what one whole prefill gives: the same tokens, and for a
    // speculative session the same drafts, so every chunk's features reached the drafter paired with the right tokens.
    [Theory]
    [InlineData(EagleHeadKind.Eagle3, 5)]
    [InlineData(EagleHeadKind.Eagle3, 16)]
    [InlineData(EagleHeadKind.Eagle1, 7)]
    public void A_prompt_prefilled_in_chunks_decodes_as_if_prefilled_at_once(EagleHeadKind kind, int chunk)
    {
        using var target = TestModels.Create("B", seed: 3);
        using var inner = new EagleDrafter(DraftingFixtures.Head(kind, target), new TreeSettings { TotalTokens = 12, Depth = 3, TopK = 3 });
        using var drafter = new TreeRecorder(inner);
        int[] prompt = TestModels.RandomPrompt(new Random(8), 23, target.Config.VocabSize);
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        var whole = new SpeculativeGenerator(target, drafter).Generate(prompt, options);
        var wholeTrees = drafter.Trees.ToList();
        drafter.Trees.Clear();
        var chunked = new SpeculativeGenerator(target, drafter) { PrefillChunkTokens = chunk }.Generate(prompt, options);
        Assert.Equal(whole.OutputIds, chunked.OutputIds);
        Assert.Equal(wholeTrees.Count, drafter.Trees.Count);
        for (int i = 0; i < wholeTrees.Count; i++) Assert.Equal(wholeTrees[i], drafter.Trees[i]);   // the draft head saw the same pairs
        Assert.Equal(whole.Stats.AcceptedDraftTokens, chunked.Stats.AcceptedDraftTokens);
        Assert.Equal(whole.Stats.Rounds, chunked.Stats.Rounds);
        Assert.Equal(whole.Stats.TargetForwards + (23 + chunk - 1) / chunk - 1, chunked.Stats.TargetForwards);
        Assert.Equal(new VanillaGenerator(target).Generate(prompt, options).OutputIds,
            new VanillaGenerator(target) { PrefillChunkTokens = chunk }.Generate(prompt, options).OutputIds);
    }

    [Fact]
    public void A_long_prompt_prefills_a_chunk_per_step_while_the_others_stream()
    {
        using var target = TestModels.Create("A", seed: 2);
        var generator = new VanillaGenerator(target) { PrefillChunkTokens = 8 };
        var options = new GenerationOptions { MaxNewTokens = 10, StopTokenIds = [] };
        int shortTokens = 0;
        using var shortOne = generator.Start(TestModels.RandomPrompt(new Random(1), 3, 90), options, ids => { shortTokens += ids.Count; return true; });
        using var longOne = generator.Start(TestModels.RandomPrompt(new Random(2), 40, 90), options);
        var shortAlone = generator.Generate(shortOne.Prompt, options).OutputIds;
        var longAlone = generator.Generate(longOne.Prompt, options).OutputIds;
        for (int step = 1; step <= 5; step++)
        {
            DecodingSession.Step([shortOne, longOne]);
            Assert.Equal(Math.Min(40, 8 * step), longOne.Prefilled);                 // one chunk per step
            Assert.Equal(step, shortTokens);                                        // while the short one streams a token per step
        }
        Assert.Single(longOne.Output);                                              // its first token came with its last chunk
        while (!shortOne.Done || !longOne.Done)
            DecodingSession.Step(new DecodingSession[] { shortOne, longOne }.Where(s => !s.Done).ToArray());
        Assert.Equal(shortAlone, shortOne.Result.OutputIds);
        Assert.Equal(longAlone, longOne.Result.OutputIds);
    }

    private static Tensor Ids(Random _, int n, int seed) =>
        tensor(TestModels.RandomPrompt(new Random(100 + seed), n, 90).Select(t => (long)t).ToArray());

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / (1 + Math.Abs(expected[i])));
        Assert.True(worst < 1e-4, $"{what}: relative difference {worst}");
    }
}
