using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

/// <summary>The KV slots a serving engine reuses request after request (<see cref="KVCachePool"/>).</summary>
public class KVCachePoolTests
{
    private static KVCache Allocate(int capacity) => new(2, 2, 4, capacity, ScalarType.Float32, CPU);

    [Fact]
    public void A_returned_slot_serves_the_next_request_that_fits_emptied_and_a_bigger_request_gets_a_new_one()
    {
        using var pool = new KVCachePool(maxIdle: 4);
        var first = pool.Rent(16, Allocate);
        using (var k = ones(1, 2, 3, 4))
        {
            first.Write(0, k, k);
            first.Write(1, k, k);
        }
        first.Advance(3);
        first.Dispose();                                                    // back to the pool, not freed

        using var again = pool.Rent(10, Allocate);
        Assert.Same(first, again);
        Assert.Equal(0, again.Length);
        Assert.Equal(16, again.Capacity);
        using var bigger = pool.Rent(32, Allocate);
        Assert.NotSame(first, bigger);
        Assert.Equal((1, 2), (pool.Reused, pool.Allocated));
    }

    [Fact]
    public void A_request_takes_the_smallest_idle_slot_that_holds_it()
    {
        using var pool = new KVCachePool(maxIdle: 4);
        var caches = new[] { 64, 16, 32 }.Select(c => pool.Rent(c, Allocate)).ToList();
        caches.ForEach(c => c.Dispose());
        using var taken = pool.Rent(20, Allocate);
        Assert.Equal(32, taken.Capacity);
    }

    [Fact]
    public void At_most_MaxIdle_slots_wait_and_the_smallest_goes_first()
    {
        using var pool = new KVCachePool(maxIdle: 2);
        var caches = new[] { 8, 64, 16 }.Select(c => pool.Rent(c, Allocate)).ToList();
        caches.ForEach(c => c.Dispose());
        Assert.Equal(2, pool.IdleCount);
        Assert.Equal(KVCache.BytesFor(2, 2, 4, 64 + 16, ScalarType.Float32), pool.IdleBytes);
    }

    [Fact]
    public void Disposing_a_slot_twice_returns_it_once()
    {
        using var pool = new KVCachePool(maxIdle: 4);
        var cache = pool.Rent(8, Allocate);
        cache.Dispose();
        cache.Dispose();
        Assert.Equal(1, pool.IdleCount);
        using var a = pool.Rent(8, Allocate);
        using var b = pool.Rent(8, Allocate);
        Assert.NotSame(a, b);                                               // two requests never share a slot
    }

    [Fact]
    public void When_a_new_slot_does_not_fit_the_idle_ones_are_freed_and_it_is_tried_again()
    {
        using var pool = new KVCachePool(maxIdle: 4);
        pool.Rent(8, Allocate).Dispose();
        int attempts = 0;
        using var cache = pool.Rent(64, c => ++attempts == 1 ? throw DeviceMemory.SimulatedOutOfMemory(DeviceMemory.KVCache) : Allocate(c));
        Assert.Equal((2, 0, 64), (attempts, pool.IdleCount, cache.Capacity));
        // with nothing idle to free, the failure is the caller's
        Assert.ThrowsAny<Exception>(() => pool.Rent(128, _ => throw DeviceMemory.SimulatedOutOfMemory(DeviceMemory.KVCache)));
    }

    [Fact]
    public void Slots_outlive_the_dispose_scope_of_the_request_that_made_them_and_a_closed_pool_frees_what_comes_back()
    {
        var pool = new KVCachePool(maxIdle: 4);
        KVCache made;
        using (NewDisposeScope()) made = pool.Rent(8, Allocate);
        made.Dispose();
        using var again = pool.Rent(8, Allocate);
        Assert.Same(made, again);
        using (var k = ones(1, 2, 1, 4)) again.Write(0, k, k);              // its tensors are alive
        pool.Dispose();
        again.Dispose();                                                    // the pool is closed: freed, not kept
        Assert.Equal(0, pool.IdleCount);
    }

    // Requests decoded one after another in reused slots (stale entries from the last request past each Length) give
    // the tokens fresh caches give, vanilla and speculative.
    [Fact]
    public void Decoding_in_reused_slots_gives_the_tokens_fresh_caches_give()
    {
        using var target = TestModels.Create("A", seed: 3);
        using var drafter = new Eagle.AI.Engine.Drafting.EagleDrafter(Eagle.AI.Engine.Tests.Drafting.DraftingFixtures.Head(Eagle.AI.Engine.Drafting.EagleHeadKind.Eagle3, target),
            new Eagle.AI.Engine.Drafting.TreeSettings { TotalTokens = 12, Depth = 3, TopK = 3 });
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        var random = new Random(5);
        var prompts = Enumerable.Range(0, 6).Select(_ => TestModels.RandomPrompt(random, 3 + random.Next(20), target.Config.VocabSize)).ToArray();
        var fresh = prompts.Select(p => new VanillaGenerator(target).Generate(p, options).OutputIds).ToArray();

        using var pool = new KVCachePool(maxIdle: 2);
        target.CachePool = pool;
        try
        {
            for (int i = 0; i < prompts.Length; i++)
            {
                Assert.Equal(fresh[i], new VanillaGenerator(target).Generate(prompts[i], options).OutputIds);
                Assert.Equal(fresh[i], new SpeculativeGenerator(target, drafter).Generate(prompts[i], options).OutputIds);
            }
            // every request took a slot; only a prompt longer than every idle slot holds needs a new one
            Assert.Equal(2 * prompts.Length, pool.Reused + pool.Allocated);
            Assert.True(pool.Reused >= prompts.Length, $"{pool.Reused} reused, {pool.Allocated} allocated");
        }
        finally
        {
            target.CachePool = null;
        }
    }
}
