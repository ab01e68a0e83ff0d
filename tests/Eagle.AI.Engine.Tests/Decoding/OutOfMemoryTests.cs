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
