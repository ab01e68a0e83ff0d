using Eagle.AI.Engine.Checkpoints;

namespace Eagle.AI.Engine.Tests.Llama;

/// <summary>
/// An independent float64 LLaMA forward in plain arrays, written from the architecture description (not from the model
/// code): embedding → per layer [RMSNorm → GQA attention with rotate-half RoPE → residual → RMSNorm → SwiGLU → residual]
/// → final RMSNorm → lm_head. Full causal attention over the whole sequence, no cache.
/// </summary>
internal sealed class ReferenceLlama(LlamaConfig c, IReadOnlyDictionary<string, double[]> w)
{
    public sealed record Result(double[][] Logits, Dictionary<int, double[][]> LayerInputs);

    public Result Forward(int[] ids, int[]? positions = null)
    {
        int T = ids.Length, H = c.HiddenSize, D = c.HeadDim, nh = c.NumAttentionHeads, nkv = c.NumKeyValueHeads;
        positions ??= Enumerable.Range(0, T).ToArray();
        var emb = w["model.embed_tokens.weight"];
        var x = new double[T][];
        for (int t = 0; t < T; t++) x[t] = emb.AsSpan(ids[t] * H, H).ToArray();
        var inputs = new Dictionary<int, double[][]>();
        var invFreq = InvFreq();
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            inputs[l] = x.Select(r => (double[])r.Clone()).ToArray();
            string p = $"model.layers.{l}.";
            var a = x.Select(r => Norm(r, w[p + "input_layernorm.weight"])).ToArray();
            var q = a.Select(r => MatVec(w[p + "self_attn.q_proj.weight"], r, nh * D)).ToArray();
            var k = a.Select(r => MatVec(w[p + "self_attn.k_proj.weight"], r, nkv * D)).ToArray();
            var v = a.Select(r => MatVec(w[p + "self_attn.v_proj.weight"], r, nkv * D)).ToArray();
            for (int t = 0; t < T; t++)
            {
                for (int h = 0; h < nh; h++) Rope(q[t], h * D, D, positions[t], invFreq);
                for (int h = 0; h < nkv; h++) Rope(k[t], h * D, D, positions[t], invFreq);
            }
            var o = new double[T][];
            for (int t = 0; t < T; t++)
            {
                o[t] = new double[nh * D];
                for (int h = 0; h < nh; h++)
                {
                    int kh = h / (nh / nkv);
                    var s = new double[t + 1];
                    for (int u = 0; u <= t; u++)
                    {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += q[t][h * D + d] * k[u][kh * D + d];
                        s[u] = dot / Math.Sqrt(D);
                    }
                    double max = s.Max(), sum = 0;
                    for (int u = 0; u <= t; u++) sum += s[u] = Math.Exp(s[u] - max);
                    for (int u = 0; u <= t; u++)
                        for (int d = 0; d < D; d++) o[t][h * D + d] += s[u] / sum * v[u][kh * D + d];
                }
            }
            for (int t = 0; t < T; t++)
            {
                var att = MatVec(w[p + "self_attn.o_proj.weight"], o[t], H);
                for (int i = 0; i < H; i++) x[t][i] += att[i];
                var b = Norm(x[t], w[p + "post_attention_layernorm.weight"]);
                var g = MatVec(w[p + "mlp.gate_proj.weight"], b, c.IntermediateSize);
                var up = MatVec(w[p + "mlp.up_proj.weight"], b, c.IntermediateSize);
                for (int i = 0; i < g.Length; i++) g[i] = g[i] / (1 + Math.Exp(-g[i])) * up[i];
                var m = MatVec(w[p + "mlp.down_proj.weight"], g, H);
                for (int i = 0; i < H; i++) x[t][i] += m[i];
            }
        }
        var head = c.TieWordEmbeddings ? emb : w["lm_head.weight"];
        var logits = x.Select(r => MatVec(head, Norm(r, w["model.norm.weight"]), c.VocabSize)).ToArray();
        return new Result(logits, inputs);
    }

    private double[] Norm(double[] x, double[] weight)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double r = 1 / Math.Sqrt(ms + c.RmsNormEps);
        return x.Select((v, i) => v * r * weight[i]).ToArray();
    }

    private static double[] MatVec(double[] m, double[] x, int rows)
    {
        int cols = x.Length;
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double s = 0;
            for (int j = 0; j < cols; j++) s += m[i * cols + j] * x[j];
            y[i] = s;
        }
        return y;
    }

    // rotate-half: element d pairs with d + D/2; angle = position * invFreq[d mod D/2]
    private static void Rope(double[] v, int off, int D, int pos, double[] invFreq)
    {
        int half = D / 2;
        for (int d = 0; d < half; d++)
        {
            double ang = pos * invFreq[d], cs = Math.Cos(ang), sn = Math.Sin(ang);
            double a = v[off + d], b = v[off + d + half];
            v[off + d] = a * cs - b * sn;
            v[off + d + half] = b * cs + a * sn;
        }
    }

    // Meta's llama3 scaling: long wavelengths divided by factor, short kept, a linear blend in between
    private double[] InvFreq()
    {
        int D = c.HeadDim;
        var f = Enumerable.Range(0, D / 2).Select(i => Math.Pow(c.RopeTheta, -2.0 * i / D)).ToArray();
        var s = c.RopeScaling;
        if (s is null || s.Kind != "llama3") return f;
        double lowWl = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor, highWl = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        return f.Select(freq =>
        {
            double wl = 2 * Math.PI / freq;
            if (wl < highWl) return freq;
            if (wl > lowWl) return freq / s.Factor;
            double smooth = (s.OriginalMaxPositionEmbeddings / wl - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            return (1 - smooth) * freq / s.Factor + smooth * freq;
        }).ToArray();
    }
}
