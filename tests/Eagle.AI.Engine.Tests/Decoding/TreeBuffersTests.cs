using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Tests.Drafting;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

public class TreeBuffersTests
{
    [Fact]
    public void Each_load_writes_the_tree_after_the_committed_prefix_into_the_same_buffers()
    {
        using var buffers = new TreeBuffers(maxTreeTokens: 8, capacity: 40, CPU);
        var r = new Random(4);
        int past = 3;
        for (int round = 0; round < 30 && past < 32; round++)
        {
            using var scope = NewDisposeScope();
            int n = r.Next(1, 9);
            var parents = Enumerable.Range(0, n).Select(i => i == 0 ? -1 : r.Next(i)).ToArray();
            var tree = new DraftTree(Enumerable.Range(0, n).Select(_ => r.Next(100)).ToArray(), parents);
            var (ids, positions, mask) = buffers.Load(tree.OnDevice(CPU), past);

            Assert.Equal(tree.Tokens.Select(t => (long)t), ids.data<long>().ToArray());
            Assert.Equal(tree.Depths.Select(d => (long)(past + d)), positions.data<long>().ToArray());
            Assert.Equal([n, past + n], mask.shape);
            var m = mask.contiguous().data<bool>().ToArray();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < past + n; j++)
                    Assert.Equal(j < past || tree.IsAncestorOrSelf(j - past, i), m[i * (past + n) + j]);
            past += r.Next(1, n + 1);                                               // the accepted part becomes the prefix
        }
    }

    [Fact]
    public void A_request_allocates_its_caches_and_tree_buffers_once_however_many_rounds_it_runs()
    {
        using var target = TestModels.Create("A", seed: 11);
        using var drafter = new EagleDrafter(DraftingFixtures.Head(EagleHeadKind.Eagle3, target), new TreeSettings { TotalTokens = 16, Depth = 3, TopK = 4 });
        var generator = new SpeculativeGenerator(target, drafter);
        var options = new GenerationOptions { MaxNewTokens = 40, StopTokenIds = [] };
        for (int request = 0; request < 2; request++)
        {
            var allocations = new List<string>();
            GenerationResult result;
            using (DeviceMemory.Hook(allocations.Add))
                result = generator.Generate([5, 9, 14, 20], options);
            Assert.True(result.Stats.Rounds >= 20, $"only {result.Stats.Rounds} rounds");
            // each request (session) owns its draft cache, as it owns its KV cache: the drafter keeps nothing between requests
            string[] setup = [DeviceMemory.KVCache, DeviceMemory.TreeBuffers, DeviceMemory.DraftCache];
            var rounds = Enumerable.Repeat<string[]>([DeviceMemory.Draft, DeviceMemory.Forward], result.Stats.Rounds).SelectMany(x => x);
            Assert.Equal([.. setup, DeviceMemory.Forward, .. rounds], allocations);  // the prefill, then a draft and a verify per round
        }
    }
}
