using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>
/// A request that does not fit in device memory must fail with a clear error, free what it allocated, and leave the
/// generator serving the next request exactly. CUDA's failure is injected at each allocation point through
/// <see cref="DeviceMemory"/> (libtorch raises it as an exception whose message contains "out of memory").
/// </summary>
[Collection(NonParallel.Name)]
public class OutOfMemoryTests
{
    public static readonly TheoryData<string, int> Points = new()
    {
        { DeviceMemory.KVCache, 1 }, { DeviceMemory.TreeBuffers, 1 }, { DeviceMemory.DraftCache, 1 },
        { DeviceMemory.Forward, 1 },                                                // the prefill
        { DeviceMemory.Draft, 2 },                                                  // the second round's draft
        { DeviceMemory.Forward, 4 },                                                // the third verify, mid-generation
    };

    [Theory]
    [MemberData(nameof(Points))]
    public void A_failed_allocation_frees_the_request_and_the_next_request_is_exact(string point, int occurrence)
    {
        using var target = TestModels.Create("A", seed: 11);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 16, Depth = 3, TopK = 4 });
        var generator = new SpeculativeGenerator(target, drafter, contextLimit: 512);
        int[] prompt = [5, 9, 14, 20];
        var options = new GenerationOptions { MaxNewTokens = 24, StopTokenIds = [] };
        var expected = new VanillaGenerator(target).Generate(prompt, options).OutputIds;
        var streamed = new List<int>();
        long before = LeakTests.LiveTensors();

        int seen = 0;
        DeviceOutOfMemoryException e;
        using (DeviceMemory.Hook(what =>
        {
            if (what == point && ++seen == occurrence) throw DeviceMemory.SimulatedOutOfMemory(what);
        }))
        {
            e = Assert.Throws<DeviceOutOfMemoryException>(() => generator.Generate(prompt, options, streamed.AddRange));
        }

        int budget = prompt.Length + options.MaxNewTokens + drafter.MaxTreeTokens;
        long bytes = KVCache.BytesFor(4, 2, 8, budget, ScalarType.Float32) + TreeBuffers.BytesFor(drafter.MaxTreeTokens, budget);
        Assert.Equal(point, e.Allocation);
        Assert.Equal(budget, e.TokenBudget);
        Assert.Equal(bytes, e.BytesNeeded);
        Assert.Equal("cpu", e.Device);
        Assert.Contains($"token budget is {budget}", e.Message);
        Assert.Contains($"{bytes:N0} bytes", e.Message);
        Assert.Contains("cpu memory", e.Message);
        Assert.Contains("out of memory", e.InnerException!.Message);
        Assert.Equal(expected.Take(streamed.Count), streamed);                      // what was emitted before it failed was right
        Assert.Equal(before, LeakTests.LiveTensors());                              // the request's caches, buffers and round tensors are gone

        Assert.Equal(expected, generator.Generate(prompt, options).OutputIds);
    }

    /// <summary>
    /// When a batched forward does not fit, each session runs again alone: the one whose own forward does not fit either
    /// fails alone with <see cref="DeviceOutOfMemoryException"/>, and the others finish with their solo outputs.
    /// </summary>
    [Fact]
    public void Out_of_memory_in_a_batched_forward_fails_only_the_session_that_does_not_fit_alone()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 12, Depth = 3, TopK = 3 });
        var options = new GenerationOptions { MaxNewTokens = 16, StopTokenIds = [] };
        int[][] prompts = [[5, 9, 14], [7, 3, 2, 8], [11, 4]];
        var expected = prompts.Select(p => new VanillaGenerator(target).Generate(p, options).OutputIds).ToArray();
        var sessions = prompts.Select(p => new SpeculativeGenerator(target, drafter).Start(p, options)).ToArray();
        try
        {
            DecodingSession.Step(sessions);                                         // the prefill, together
            int forwards = 0;
            using (DeviceMemory.Hook(what =>
            {
                // the batched forward fails, then the second session's forward alone fails too
                if (what == DeviceMemory.Forward && ++forwards is 1 or 3) throw DeviceMemory.SimulatedOutOfMemory(what);
            }))
            {
                DecodingSession.Step(sessions);
            }
            Assert.Equal(4, forwards);
            var failed = Assert.IsType<DeviceOutOfMemoryException>(sessions[1].Failure);
            Assert.Equal(DeviceMemory.Forward, failed.Allocation);
            Assert.True(sessions[1].Done);
            Assert.Null(sessions[1].Retain());                                     // a session that failed mid-step keeps nothing
            Assert.Null(sessions[0].Failure);
            var rest = new[] { sessions[0], sessions[2] };
            while (rest.Any(s => !s.Done)) DecodingSession.Step([.. rest.Where(s => !s.Done)]);
            Assert.Equal(expected[0], sessions[0].Result.OutputIds);
            Assert.Equal(expected[2], sessions[2].Result.OutputIds);
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
        }
    }

    /// <summary>A single session's forward that does not fit still throws (there is nothing to retry alone).</summary>
    [Fact]
    public void Out_of_memory_in_a_single_sessions_forward_throws()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var session = new VanillaGenerator(target).Start([5, 9], new GenerationOptions { MaxNewTokens = 4, StopTokenIds = [] });
        using (DeviceMemory.Hook(what => { if (what == DeviceMemory.Forward) throw DeviceMemory.SimulatedOutOfMemory(what); }))
            Assert.Throws<DeviceOutOfMemoryException>(() => DecodingSession.Step([session]));
        Assert.Null(session.Failure);
    }

    /// <summary>A forward that fails after its layers ran (here: a bad logit row) leaves every cache as it was.</summary>
    [Fact]
    public void A_failed_forward_commits_nothing_to_any_cache()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var guard = no_grad();
        using var first = target.NewCache(16);
        using var second = target.NewCache(16);
        using var ids = tensor(new long[] { 3, 4 });
        using var positions = Eagle.AI.Engine.Runtime.HeldScalars.Range(0, 2);
        using var badRow = tensor(new long[] { 7 });
        Assert.ThrowsAny<Exception>(() => (object)target.Forward([
            new ForwardItem(ids, positions, first, null, ForwardRequest.AllLogits),
            new ForwardItem(ids, positions, second, null, ForwardRequest.AllLogits with { LogitRows = badRow })]));
        Assert.Equal(0, first.Length);
        Assert.Equal(0, second.Length);
    }

    [Fact]
    public void Other_failures_pass_through_untranslated()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target));
        var generator = new SpeculativeGenerator(target, drafter);
        using (DeviceMemory.Hook(what => throw new InvalidOperationException("not memory")))
            Assert.Throws<InvalidOperationException>(() => generator.Generate([5, 9], new GenerationOptions { MaxNewTokens = 4 }));
        Assert.True(DeviceMemory.IsOutOfMemory(DeviceMemory.SimulatedOutOfMemory("kv-cache")));
        Assert.False(DeviceMemory.IsOutOfMemory(new InvalidOperationException("out of memory")));   // only libtorch's errors
    }
}
