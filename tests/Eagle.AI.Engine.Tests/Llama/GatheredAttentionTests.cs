using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

// The GPU's batched decode attention (all one-token sequences in one call), run here on the CPU where it is off by
// default: each sequence must get what it gets attending alone, and its cache the same K/V.
public sealed class GatheredAttentionTests
{
    [Fact]
    public void The_plan_takes_the_one_token_unmasked_sequences_and_keeps_each_query_on_its_own_keys()
    {
        using var chunkMask = LlamaForCausalLM.CausalMask(5, 3, CPU);
        var plan = GatheredAttention.Plan([1, 3, 1, 1], [2, 5, 0, 4], [null, chunkMask, null, null], group: 2, CPU)!;
        Assert.Equal([0, 2, 3], plan.Sequences);
        Assert.Equal([6L, 3 + 1 + 5], plan.Mask.shape);                            // group·B rows; each cache and its new token
        var rows = plan.Mask.to(ScalarType.Int32).data<int>().ToArray();
        int[] owner = [0, 0, 0, 1, 2, 2, 2, 2, 2];                                // key column → gathered sequence
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 9; c++)
                Assert.Equal(owner[c] == r % 3 ? 1 : 0, rows[r * 9 + c]);          // rows repeat per query head of a KV group
        plan.Mask.Dispose();

        Assert.Null(GatheredAttention.Plan([1, 3], [2, 5], [null, chunkMask], 1, CPU)); // one such sequence: nothing to gather
    }

    // Against attention written out in float64 from its definition: each query head h of sequence j scores its KV head
    // h / group's keys (the cache's prefix and the new one), softmax, the weighted sum of the values.
    [Theory]
    [InlineData(4, 2)]
    [InlineData(4, 4)]
    [InlineData(4, 1)]
    public void Attend_matches_per_sequence_attention_computed_from_the_definition(int heads, int kvHeads)
    {
        const int d = 8;
        int[] past = [3, 0, 6];
        using var scope = NewDisposeScope();
        var gen = new Generator(seed: 7);
        var caches = past.Select(p => new KVCache(1, kvHeads, d, 16, ScalarType.Float32, CPU)).ToArray();
        for (int j = 0; j < past.Length; j++)
        {
            caches[j].Write(0, randn([1, kvHeads, past[j], d], generator: gen), randn([1, kvHeads, past[j], d], generator: gen));
            caches[j].Advance(past[j]);
        }
        var q = randn([1, heads, 3, d], generator: gen);
        var k = randn([1, kvHeads, 3, d], generator: gen);
        var v = randn([1, kvHeads, 3, d], generator: gen);
        var batch = new PackedSequences([1, 1, 1], caches, [null, null, null]);
        var plan = GatheredAttention.Plan(batch.Lengths, past, batch.Masks, heads / kvHeads, CPU)!;
        var o = plan.Attend(q, k, v, batch, 0, heads, kvHeads, d);                   // [1, heads, 3, D]

        var qs = q.to(ScalarType.Float64).data<double>().ToArray();
        var got = o.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        double worst = 0;
        for (int j = 0; j < past.Length; j++)
        {
            var (keys, values) = caches[j].Storage(0);
            var ks = keys.to(ScalarType.Float64).data<double>().ToArray();          // [1, kvHeads, 16, D], new entry at past[j]
            var vs = values.to(ScalarType.Float64).data<double>().ToArray();
            for (int h = 0; h < heads; h++)
            {
                int kv = h / (heads / kvHeads), n = past[j] + 1;
                var scores = new double[n];
                for (int t = 0; t < n; t++)
                {
                    for (int e = 0; e < d; e++) scores[t] += qs[(h * 3 + j) * d + e] * ks[(kv * 16 + t) * d + e];
                    scores[t] /= Math.Sqrt(d);
                }
                double max = scores.Max(), sum = scores.Sum(x => Math.Exp(x - max));
                for (int e = 0; e < d; e++)
                {
                    double want = 0;
                    for (int t = 0; t < n; t++) want += Math.Exp(scores[t] - max) / sum * vs[(kv * 16 + t) * d + e];
                    worst = Math.Max(worst, Math.Abs(want - got[(h * 3 + j) * d + e]));
                }
            }
        }
        Assert.True(worst < 1e-5, $"largest difference {worst}");
        // The new K/V went into each cache at its own position.
        TensorAssert.Close(TensorAssert.Rows(caches[2].Storage(0).K.narrow(2, 6, 1).reshape(-1, d)), TensorAssert.Rows(k.narrow(2, 2, 1).reshape(-1, d)), 1e-7, "cache 2's new key");
        foreach (var c in caches) c.Dispose();
    }

    [Theory]
    [InlineData("A")]                                                               // grouped-query attention
    [InlineData("C")]                                                               // one KV head per query head
    public void One_token_sequences_attended_together_get_their_solo_outputs_and_caches(string config)
    {
        using var target = TestModels.Create(config, seed: 5);
        using var guard = no_grad();
        var random = new Random(3);
        int vocab = target.Config.VocabSize;
        int[][] prefixes = [TestModels.RandomPrompt(random, 6, vocab), TestModels.RandomPrompt(random, 2, vocab),
            TestModels.RandomPrompt(random, 9, vocab), TestModels.RandomPrompt(random, 4, vocab)];
        int[] news = [1, 1, 3, 1];                                                  // a several-token chunk among them stays apart
        var request = new ForwardRequest(CaptureLayers: [0, 1], FinalHidden: true);

        var apart = Run(target, prefixes, news, request, gathered: false);
        var together = Run(target, prefixes, news, request, gathered: true);
        for (int j = 0; j < prefixes.Length; j++)
        {
            TensorAssert.Close(together[j].Logits, apart[j].Logits, 1e-5, $"logits of sequence {j}");
            TensorAssert.Close(together[j].Hidden, apart[j].Hidden, 1e-5, $"hidden states of sequence {j}");
            TensorAssert.Close(together[j].K, apart[j].K, 1e-6, $"cached keys of sequence {j}");
            TensorAssert.Close(together[j].V, apart[j].V, 1e-6, $"cached values of sequence {j}");
        }
        Assert.False(target.GatherDecodeAttention);                                 // left as the CPU default
    }

    private static List<(double[][] Logits, double[][] Hidden, double[][] K, double[][] V)> Run(
        LlamaForCausalLM target, int[][] prefixes, int[] news, ForwardRequest request, bool gathered)
    {
        var caches = prefixes.Select(p => TestModels.Prefilled(target, p)).ToList();
        try
        {
            var items = prefixes.Select((p, j) => new ForwardItem(
                tensor(TestModels.RandomPrompt(new Random(50 + j), news[j], target.Config.VocabSize).Select(t => (long)t).ToArray()),
                HeldScalars.Range(p.Length, p.Length + news[j]), caches[j], null, request)).ToList();
            var outputs = Switched.With(() => target.GatherDecodeAttention, v => target.GatherDecodeAttention = v, gathered, () => target.Forward(items));
            int last = target.Config.NumHiddenLayers - 1;
            return [.. outputs.Select((o, j) =>
            {
                var (k, v) = caches[j].Storage(last);
                int length = caches[j].Length;
                var result = (TensorAssert.Rows(o.Logits), TensorAssert.Rows(o.FinalHidden!),
                    TensorAssert.Rows(k.narrow(2, 0, length).reshape(-1, target.Config.HeadDim)),
                    TensorAssert.Rows(v.narrow(2, 0, length).reshape(-1, target.Config.HeadDim)));
                o.Dispose();
                return result;
            })];
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
        }
    }
}
