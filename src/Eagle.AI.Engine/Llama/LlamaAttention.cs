using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// Grouped-query attention over a <see cref="KVCache"/> through <c>scaled_dot_product_attention</c> with an explicit mask.
/// GQA without copying K/V: the query heads that share a KV head are stacked along the sequence axis
/// ([1, kvHeads, group·n, D]) and the mask rows are repeated to match. q/k/v_proj share one [(heads + 2·kvHeads)·D, in]
/// storage (see <see cref="Fused"/>), so they run as one GEMM while the checkpoint keys stay per projection.
/// </summary>
internal sealed class LlamaAttention : nn.Module
{
    /// <summary>[heads·D, H]</summary>
    public readonly Projection q_proj;
    /// <summary>[kvHeads·D, H]</summary>
    public readonly Projection k_proj;
    /// <summary>[kvHeads·D, H]</summary>
    public readonly Projection v_proj;
    /// <summary>[H, heads·D]</summary>
    public readonly Projection o_proj;
    private readonly int heads, kvHeads, headDim;
    private readonly FusedWeight qkv; // [(heads + 2·kvHeads)·D, in]: q_proj, k_proj and v_proj weights are its row slices

    /// <summary>Creates an uninitialised attention block; <paramref name="inFeatures"/> is H for the target (2H in an EAGLE-3 head).</summary>
    public LlamaAttention(int inFeatures, int hidden, int heads, int kvHeads, int headDim, ScalarType dtype, Device device)
        : base(nameof(LlamaAttention))
    {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        q_proj = new Projection(inFeatures, heads * headDim, dtype, device);
        k_proj = new Projection(inFeatures, kvHeads * headDim, dtype, device);
        v_proj = new Projection(inFeatures, kvHeads * headDim, dtype, device);
        o_proj = new Projection(heads * headDim, hidden, dtype, device);
        // Shared right away, while the weights are still empty: loading and initialisation write into the slices in
        // place, and a layer's released buffers are reused by the next layer's allocations.
        qkv = new FusedWeight(q_proj.weight, k_proj.weight, v_proj.weight);
        RegisterComponents();
    }

    /// <summary>
    /// Whether q, k and v come from one GEMM over the shared weight (default) rather than three. Either way the values
    /// are the same; the three-GEMM path is also taken whenever the weights require grad (head training), because the
    /// gradient must reach the per-projection parameters.
    /// </summary>
    public bool Fused { get; set; } = true;

    /// <summary>
    /// x [1, n, in]; cos/sin [n, D]; mask bool [n, past + n] (true = attend) or null (everything visible: one query token).
    /// Writes this layer's new K/V into <paramref name="cache"/> and returns [1, n, H].
    /// </summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KVCache cache, int layer) =>
        forward(x, cos, sin, PackedSequences.One((int)x.shape[1], cache, mask), layer);

    /// <summary>
    /// x [1, N, in] holding the new tokens of every sequence in <paramref name="batch"/>; cos/sin [N, D]. One GEMM
    /// computes q/k/v for all rows; each sequence then writes its K/V into its own cache and attends with its own mask.
    /// Returns [1, N, H].
    /// </summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, PackedSequences batch, int layer)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[1];
        Tensor q, k, v;
        Tensor? native = null;                                                   // [1, n, heads·D]: the native decode attention's rows
        bool[]? nativeRows = null;
        if (Fused && !q_proj.weight.requires_grad)
        {
            // One GEMM, then q and k rotated together as heads + kvHeads heads: fewer launches per layer.
            var projected = LinearDispatch.Apply(x, qkv.Weight);                   // [1, n, (heads + 2·kvHeads)·D]
            var all = projected.view(1, n, heads + 2 * kvHeads, headDim).transpose(1, 2);
            var qk = NativeOps.Rope(projected, cos, sin, heads, kvHeads, headDim)      // CPU bf16: one call, already contiguous
                     ?? RotaryEmbedding.Apply(all.narrow(1, 0, heads + kvHeads), cos, sin);
            // One-token steps on the CPU in bf16 attend natively, the whole batch's in one call; the rest below.
            nativeRows = DecodeAttention.Eligible(projected, batch, layer, heads, kvHeads, headDim);
            if (nativeRows is not null) native = DecodeAttention.Run(qk, projected, batch, nativeRows, layer, heads, kvHeads, headDim);
            q = qk.narrow(1, 0, heads);                                          // [1, heads, n, D]
            k = qk.narrow(1, heads, kvHeads);                                    // [1, kvHeads, n, D]
            v = all.narrow(1, heads + kvHeads, kvHeads);
        }
        else
        {
            q = q_proj.forward(x).view(1, n, heads, headDim).transpose(1, 2);     // [1, heads, n, D]
            k = k_proj.forward(x).view(1, n, kvHeads, headDim).transpose(1, 2);   // [1, kvHeads, n, D]
            v = v_proj.forward(x).view(1, n, kvHeads, headDim).transpose(1, 2);
            q = RotaryEmbedding.Apply(q, cos, sin);
            k = RotaryEmbedding.Apply(k, cos, sin);
        }

        var outputs = new Tensor[batch.Count];
        if (native is null && batch.Gathered is { } gathered)
        {
            // The one-token sequences in one call; each of the rest on its own below.
            var o1 = gathered.Attend(q, k, v, batch, layer, heads, kvHeads, headDim);   // [1, heads, B, D]
            for (int i = 0; i < gathered.Sequences.Length; i++) outputs[gathered.Sequences[i]] = o1.narrow(2, i, 1);
        }
        for (int j = 0; j < batch.Count; j++)
        {
            if (nativeRows?[j] == true || outputs[j] is not null) continue;
            int offset = batch.Offsets[j], length = batch.Lengths[j];
            bool whole = batch.Count == 1;
            outputs[j] = Attend(whole ? q : q.narrow(2, offset, length), whole ? k : k.narrow(2, offset, length),
                whole ? v : v.narrow(2, offset, length), batch.Masks[j], batch.Caches[j], layer);
        }
        if (native is not null)
        {
            // The sequences libtorch attended (several tokens or a mask) fill their rows of the native output.
            for (int j = 0; j < batch.Count; j++)
                if (!nativeRows![j])
                    native.narrow(1, batch.Offsets[j], batch.Lengths[j]).copy_(outputs[j].transpose(1, 2).reshape(1, batch.Lengths[j], heads * headDim));
            return o_proj.forward(native).MoveToOuterDisposeScope();
        }
        var o = outputs.Length == 1 ? outputs[0] : cat(outputs, 2);             // [1, heads, N, D]
        o = o.transpose(1, 2).reshape(1, n, heads * headDim);
        return o_proj.forward(o).MoveToOuterDisposeScope();
    }

    // One sequence: q [1, heads, n, D], k/v [1, kvHeads, n, D] → [1, heads, n, D] over its cache.
    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask, KVCache cache, int layer)
    {
        long n = q.shape[2];
        var (keys, values) = cache.Write(layer, k, v);                          // [1, kvHeads, S, D]
        int group = heads / kvHeads;
        // head h uses KV head h / group, so [1, heads, n, D] → [1, kvHeads, group·n, D] keeps each group together
        var qg = q.reshape(1, kvHeads, group * n, headDim);
        Tensor? m = mask is null ? null : group == 1 ? mask : mask.repeat(group, 1); // [group·n, S]
        // A prefill chunk's attention (past the tokens the native attention takes: a verify tree or a draft level stays
        // on the calling thread beside the kernel's workers) is one big op: libtorch gets the cores for it.
        var o = n > DecodeAttention.MaxTokens && q.device_type == DeviceType.CPU
            ? LinearDispatch.OnTorchThreads(() => nn.functional.scaled_dot_product_attention(qg, keys, values, m))
            : nn.functional.scaled_dot_product_attention(qg, keys, values, m);  // [1, kvHeads, group·n, D]
        // reshape, not view: CUDA's flash and memory-efficient kernels return their output in a transposed layout
        return o.reshape(1, heads, n, headDim);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) qkv.Dispose();
        base.Dispose(disposing);
    }
}
