using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

public class KVCacheTests
{
    private static Tensor Ids(params int[] ids) => tensor(ids.Select(i => (long)i).ToArray());

    private static double[][] FullLogits(LlamaForCausalLM m, int[] ids)
    {
        using var cache = m.NewCache(ids.Length);
        using var idt = Ids(ids);
        using var pos = HeldScalars.Range(0, ids.Length);
        using var o = m.Forward(idt, pos, cache, null, ForwardRequest.AllLogits);
        return TensorAssert.Rows(o.Logits);
    }

    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Incremental_decode_equals_full_recompute(string name)
    {
        using var m = TestModels.Create(name);
        using var noGrad = no_grad();
        int[] ids = TestModels.RandomPrompt(new Random(1), 12, m.Config.VocabSize);
        var full = FullLogits(m, ids);
        using var cache = m.NewCache(16);
        using (var p = Ids(ids[..5]))
        using (var pos = HeldScalars.Range(0, 5))
        using (var o = m.Forward(p, pos, cache, null, ForwardRequest.AllLogits))
            TensorAssert.Close(TensorAssert.Rows(o.Logits), full[..5], 1e-5, "prefill");
        for (int t = 5; t < ids.Length; t++)
        {
            using var one = Ids(ids[t]);
            using var pos = tensor(new long[] { t });
            using var o = m.Forward(one, pos, cache, null, ForwardRequest.AllLogits);
            TensorAssert.Close(TensorAssert.Rows(o.Logits), [full[t]], 1e-5, $"step {t}");
        }
        Assert.Equal(ids.Length, cache.Length);
    }

    // tree after a 4-token prefix: 0 = root r, 1 = a (child of r), 2 = b (child of r), 3 = c (child of a), 4 = d (child of c)
    private static readonly int[] Parents = [-1, 0, 0, 1, 3];
    private static readonly int[] Depths = [0, 1, 1, 2, 3];

    private static Tensor TreeMask(int past)
    {
        int n = Parents.Length;
        var m = new bool[n, past + n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < past; j++) m[i, j] = true;
            for (int a = i; a >= 0; a = Parents[a]) m[i, past + a] = true; // self and ancestors
        }
        return tensor(m);
    }

    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void One_tree_forward_equals_separate_forwards_of_each_path(string name)
    {
        using var m = TestModels.Create(name);
        using var noGrad = no_grad();
        int[] prefix = TestModels.RandomPrompt(new Random(2), 4, m.Config.VocabSize);
        int[] tree = TestModels.RandomPrompt(new Random(3), Parents.Length, m.Config.VocabSize);
        using var cache = m.NewCache(16);
        using (var p = Ids(prefix)) using (var pos = HeldScalars.Range(0, 4))
            m.Forward(p, pos, cache, null, ForwardRequest.AllLogits).Dispose();
        using var tids = Ids(tree);
        using var tpos = tensor(Depths.Select(d => (long)(4 + d)).ToArray());
        using var mask = TreeMask(4);
        using var o = m.Forward(tids, tpos, cache, mask, ForwardRequest.AllLogits);
        var treeLogits = TensorAssert.Rows(o.Logits);
        for (int node = 0; node < tree.Length; node++)
        {
            var path = new List<int>();
            for (int a = node; a >= 0; a = Parents[a]) path.Insert(0, tree[a]);
            var full = FullLogits(m, [.. prefix, .. path]);
            TensorAssert.Close([treeLogits[node]], [full[^1]], 1e-5, $"node {node}");
        }
    }

    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Compaction_after_a_tree_equals_recomputing_the_accepted_path(string name)
    {
        using var m = TestModels.Create(name);
        using var noGrad = no_grad();
        int[] prefix = TestModels.RandomPrompt(new Random(4), 4, m.Config.VocabSize);
        int[] tree = TestModels.RandomPrompt(new Random(5), Parents.Length, m.Config.VocabSize);
        using var cache = m.NewCache(16);
        using (var p = Ids(prefix)) using (var pos = HeldScalars.Range(0, 4))
            m.Forward(p, pos, cache, null, ForwardRequest.AllLogits).Dispose();
        using (var tids = Ids(tree)) using (var tpos = tensor(Depths.Select(d => (long)(4 + d)).ToArray())) using (var mask = TreeMask(4))
            m.Forward(tids, tpos, cache, mask, ForwardRequest.AllLogits).Dispose();

        using var slots = tensor(new long[] { 4 + 0, 4 + 1, 4 + 3 });             // accept r → a → c
        cache.Compact(4, slots);
        Assert.Equal(7, cache.Length);
        int next = 9;
        using var nid = Ids(next);
        using var npos = tensor(new long[] { 7 });
        using var o = m.Forward(nid, npos, cache, null, ForwardRequest.AllLogits);
        var full = FullLogits(m, [.. prefix, tree[0], tree[1], tree[3], next]);
        TensorAssert.Close(TensorAssert.Rows(o.Logits), [full[^1]], 1e-5, "after compaction");
    }

    [Fact]
    public void A_forward_past_capacity_fails_clearly_and_leaves_the_cache_usable()
    {
        using var m = TestModels.Create("A");
        using var noGrad = no_grad();
        using var cache = m.NewCache(4);
        using var ids = Ids(1, 2, 3, 4, 5);
        using var pos = HeldScalars.Range(0, 5);
        var e = Assert.Throws<InvalidOperationException>(() => m.Forward(ids, pos, cache, null, ForwardRequest.AllLogits));
        Assert.Contains("capacity of 4", e.Message);
        Assert.Equal(0, cache.Length);
        using var ok = ids.narrow(0, 0, 4);
        using var okPos = pos.narrow(0, 0, 4);
        m.Forward(ok, okPos, cache, null, ForwardRequest.AllLogits).Dispose();
        Assert.Equal(4, cache.Length);
        cache.Truncate(2);
        Assert.Equal(2, cache.Length);
    }
}
