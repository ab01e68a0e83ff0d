using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// Several sequences' new tokens packed along one axis for a batched forward: sequence j owns rows
/// [<see cref="Offsets"/>[j], + <see cref="Lengths"/>[j]), attends against its own <see cref="Caches"/>[j] with its own
/// <see cref="Masks"/>[j] (bool [n, past + n]; null = one token, everything visible). Projections and the MLP run over
/// all rows at once, so a step reads every weight once however many sequences it serves; only attention is per
/// sequence (its one-token sequences' in one call where <see cref="Gathered"/> says so).
/// </summary>
internal sealed class PackedSequences
{
    /// <summary>Packs sequences of <paramref name="lengths"/> tokens over their caches and masks.</summary>
    public PackedSequences(IReadOnlyList<int> lengths, IReadOnlyList<KVCache> caches, IReadOnlyList<Tensor?> masks)
    {
        if (lengths.Count != caches.Count || lengths.Count != masks.Count)
            throw new ArgumentException($"{lengths.Count} lengths, {caches.Count} caches and {masks.Count} masks: one of each per sequence");
        Lengths = lengths;
        Caches = caches;
        Masks = masks;
        var offsets = new int[lengths.Count];
        for (int j = 1; j < offsets.Length; j++) offsets[j] = offsets[j - 1] + lengths[j - 1];
        Offsets = offsets;
        Total = lengths.Sum();
    }

    /// <summary>One sequence: the single-request forward.</summary>
    public static PackedSequences One(int length, KVCache cache, Tensor? mask) => new([length], [cache], [mask]);

    /// <summary>New tokens per sequence.</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary>Each sequence's first row.</summary>
    public IReadOnlyList<int> Offsets { get; }

    /// <summary>Each sequence's KV cache.</summary>
    public IReadOnlyList<KVCache> Caches { get; }

    /// <summary>Each sequence's attention mask (bool [n, past + n], true = attend), or null for one token.</summary>
    public IReadOnlyList<Tensor?> Masks { get; }

    /// <summary>Rows in all.</summary>
    public int Total { get; }

    /// <summary>Number of sequences.</summary>
    public int Count => Lengths.Count;

    /// <summary>Its one-token sequences' attention in one call (<see cref="GatheredAttention"/>), or null: each on its own.</summary>
    public GatheredAttention? Gathered { get; init; }

    /// <summary>The same sequences with their masks on <paramref name="device"/> (a layer segment on another device).</summary>
    public PackedSequences WithMasksOn(Device device) =>
        new(Lengths, Caches, Masks.Select(m => m?.to(device)).ToArray()) { Gathered = Gathered?.On(device) };
}
