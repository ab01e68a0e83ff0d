using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// The one-token sequences of a batched forward attended in one <c>scaled_dot_product_attention</c> call: each writes
/// its new K/V into its own cache, their whole caches are concatenated along the key axis, and a block-diagonal mask
/// keeps every query on its own sequence's keys. Why: on a GPU a decode step is bound by launches, not by bytes — the
/// H200 check measured a batch of 32 at 83 ms a step where the verify-cost curve implies ~20, because each session's
/// attention took ~6 launches a layer (~6,000 a step). Gathered, a layer takes 2 cache writes a session plus ~5 launches.
/// The price is compute on the masked-out blocks (B queries × all B caches' keys) and one copy of the batch's K/V per
/// layer, small beside the launches on a GPU; on a CPU it is not small (B × Σ lengths dot products), so the CPU keeps
/// per-sequence attention (and its native decode attention in bf16).
/// </summary>
/// <remarks>
/// Several-token sequences (prefill chunks, verify trees) keep their own attention: their masks and lengths would make
/// the block-diagonal product wasteful. Mathematically the result is the per-sequence attention's (the masked-out keys
/// get weight exactly 0); its floating-point sums may differ in the last bits, as any change of kernel shape does.
/// </remarks>
internal sealed class GatheredAttention
{
    private GatheredAttention(int[] sequences, Tensor mask)
    {
        Sequences = sequences;
        Mask = mask;
    }

    /// <summary>The batch's sequences attended together (indices into the batch, ascending; each one token).</summary>
    public int[] Sequences { get; }

    /// <summary>bool [group·B, Σ (length + 1)]: query row (group-major, as the GQA reshape orders them) → keys it sees.</summary>
    public Tensor Mask { get; }

    /// <summary>
    /// The plan for a batch of <paramref name="lengths"/> new tokens over caches now holding <paramref name="committed"/>
    /// positions with <paramref name="masks"/>: its one-token, unmasked sequences when there are at least two, else null.
    /// </summary>
    /// <param name="lengths">New tokens per sequence.</param>
    /// <param name="committed">Positions each sequence's cache holds before this forward.</param>
    /// <param name="masks">Each sequence's own mask (null = one token, everything visible).</param>
    /// <param name="group">Query heads per KV head (the mask's rows repeat this many times).</param>
    /// <param name="device">Where the mask is made.</param>
    public static GatheredAttention? Plan(IReadOnlyList<int> lengths, IReadOnlyList<int> committed, IReadOnlyList<Tensor?> masks, int group, Device device)
    {
        var sequences = Enumerable.Range(0, lengths.Count).Where(j => lengths[j] == 1 && masks[j] is null).ToArray();
        if (sequences.Length < 2) return null;
        // Key column c belongs to gathered sequence keyOwner[c]; query row i to sequence i: the mask is their equality.
        var keyOwner = new long[sequences.Sum(j => committed[j] + 1)];
        for (int i = 0, c = 0; i < sequences.Length; i++)
        {
            int keys = committed[sequences[i]] + 1;
            keyOwner.AsSpan(c, keys).Fill(i);
            c += keys;
        }
        using var scope = NewDisposeScope();
        var owners = tensor(keyOwner, device: device);
        var rows = HeldScalars.Range(sequences.Length, device);
        var mask = rows.unsqueeze(1).eq(owners.unsqueeze(0));                        // [B, Σ S]
        if (group > 1) mask = mask.repeat(group, 1);
        return new GatheredAttention(sequences, mask.MoveToOuterDisposeScope());
    }

    /// <summary>The same plan with its mask on <paramref name="device"/> (a layer segment on another device).</summary>
    public GatheredAttention On(Device device) => new(Sequences, Mask.to(device));

    /// <summary>
    /// Writes each gathered sequence's k/v [1, kvHeads, 1, D] (at its row of the packed <paramref name="k"/>,
    /// <paramref name="v"/>) into its cache and attends its query rows of <paramref name="q"/> [1, heads, N, D]; returns
    /// [1, heads, B, D] in the order of <see cref="Sequences"/>.
    /// </summary>
    public Tensor Attend(Tensor q, Tensor k, Tensor v, PackedSequences batch, int layer, int heads, int kvHeads, int headDim)
    {
        int b = Sequences.Length;
        var keys = new Tensor[b];
        var values = new Tensor[b];
        for (int i = 0; i < b; i++)
        {
            int j = Sequences[i], row = batch.Offsets[j];
            (keys[i], values[i]) = batch.Caches[j].Write(layer, k.narrow(2, row, 1), v.narrow(2, row, 1));
        }
        bool all = b == batch.Count;                                                  // then row i is sequence i
        var rows = all ? q : q.index_select(2, tensor(Sequences.Select(j => (long)batch.Offsets[j]).ToArray(), device: q.device));
        int group = heads / kvHeads;
        var qg = rows.reshape(1, kvHeads, group * b, headDim);                        // as LlamaAttention: KV groups together
        var o = nn.functional.scaled_dot_product_attention(qg, cat(keys, 2), cat(values, 2), Mask);
        return o.reshape(1, heads, b, headDim);
    }
}
