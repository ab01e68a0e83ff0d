using System.Runtime.InteropServices;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// A layer's attention for a batch of decode steps, verify trees and draft levels on the CPU in bf16, in one native call
/// (<c>eagle_decode_attention_bf16</c> in <c>Native/eagle_cpu.c</c>): every sequence's new K/V written into its cache,
/// then each query head of each new token attending to what its mask row allows (a single token: its whole prefix).
/// Why: libtorch's <c>scaled_dot_product_attention</c> for one bf16 query over 2,000 cached positions took 0.70 ms a
/// layer here, a 4-token verify with its mask over 2,000 positions cost 14 ms more a forward than over 64, and a batch
/// of B decoding sessions paid B × ~12 small libtorch calls a layer. Prefill chunks (more than <see cref="MaxTokens"/>
/// tokens) stay on libtorch (<see cref="Eligible"/>), also beside native sequences in one batch.
/// </summary>
internal static unsafe class DecodeAttention
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Sequence
    {
        public void* K, V;
        public int Length, Capacity, Token, Count;
        public byte* Mask;       // null: one token, everything visible
        public long MaskStride;  // bytes between mask rows
    }

    /// <summary>
    /// Most new tokens of one sequence that go native: a verify tree or a draft level (up to 64 with the default
    /// trees). Longer runs are prefill chunks, a matrix product's worth of work where libtorch's attention is the right tool.
    /// </summary>
    public const int MaxTokens = 64;

    private struct Job
    {
        public ushort* Qk, Qkv, Out;
        public Sequence* Sequences;
        public int N, Count, Heads, KvHeads, HeadDim, Failed;
        public float Scale;
    }

    [DllImport(CpuLinearKernel.NativeLibraryName)]
    private static extern int eagle_decode_attention_bf16(ushort* qk, ushort* qkv, ushort* output, Sequence* sequences,
        int n, int heads, int kvHeads, int headDim, float scale, int first, int last);

    /// <summary>
    /// Whether one-token steps may use the native attention (default: with the native bf16 kernel, unless
    /// <c>EAGLE_NATIVE_ATTENTION=0</c>); settable so tests can compare it with libtorch's.
    /// </summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("EAGLE_NATIVE_ATTENTION") != "0";

    /// <summary>
    /// Which sequences of this layer's step can go native (null = none): the native bf16 kernel is on and the shapes are
    /// in its range, and the sequence adds one token with no mask, or up to <see cref="MaxTokens"/> with a bool mask
    /// [n, past + n] on the CPU whose rows are contiguous, to a cache whose layer storage is contiguous bf16 on the CPU.
    /// </summary>
    public static bool[]? Eligible(Tensor projected, PackedSequences batch, int layer, int heads, int kvHeads, int headDim)
    {
        if (!Enabled || !CpuLinearKernel.NativeBf16 || projected.device_type != DeviceType.CPU || projected.dtype != ScalarType.BFloat16) return null;
        // the C side's limits: D a multiple of 32 up to MAX_DIM, heads per KV head up to MAX_GROUP
        if (headDim % 32 != 0 || headDim > 256 || heads % kvHeads != 0 || heads / kvHeads > 16 || !projected.is_contiguous()) return null;
        var eligible = new bool[batch.Count];
        bool any = false;
        for (int j = 0; j < batch.Count; j++)
        {
            int count = batch.Lengths[j];
            var mask = batch.Masks[j];
            bool fits = mask is null ? count == 1
                : count <= MaxTokens && mask.device_type == DeviceType.CPU && mask.dtype == ScalarType.Bool
                  && mask.shape is [var rows, var columns] && rows == count && columns == batch.Caches[j].Length + count && mask.stride(1) == 1;
            if (!fits || batch.Caches[j].Length + count > batch.Caches[j].Capacity) continue;   // no room: libtorch's write says so
            var (k, v) = batch.Caches[j].Storage(layer);
            eligible[j] = k.device_type == DeviceType.CPU && k.dtype == ScalarType.BFloat16 && k.is_contiguous() && v.is_contiguous();
            any |= eligible[j];
        }
        return any ? eligible : null;
    }

    /// <summary>
    /// qk [1, heads + kvHeads, N, D] (rotated queries, then rotated new keys), projected [1, N, (heads + 2·kvHeads)·D]
    /// (the q/k/v projection, whose last kvHeads heads are the new values) → [1, N, heads·D] with the
    /// <paramref name="eligible"/> sequences' rows filled (the caller fills the others), each of their new K/V written at
    /// its cache's length (committed by the caller's <see cref="KVCache.Advance"/>, as with libtorch).
    /// </summary>
    public static Tensor Run(Tensor qk, Tensor projected, PackedSequences batch, bool[] eligible, int layer, int heads, int kvHeads, int headDim)
    {
        int n = batch.Total;
        using var rotated = qk.contiguous();
        var output = empty([1, n, heads * headDim], ScalarType.BFloat16, projected.device);
        var sequences = new List<Sequence>();
        int heaviest = 0;                                                       // the most keys × new tokens of one sequence
        for (int j = 0; j < batch.Count; j++)
        {
            if (!eligible[j]) continue;
            var cache = batch.Caches[j];
            var (k, v) = cache.Storage(layer);
            var mask = batch.Masks[j];
            sequences.Add(new Sequence
            {
                K = CpuLinearKernel.Data(k), V = CpuLinearKernel.Data(v), Length = cache.Length, Capacity = cache.Capacity,
                Token = batch.Offsets[j], Count = batch.Lengths[j],
                Mask = mask is null ? null : (byte*)CpuLinearKernel.Data(mask), MaskStride = mask?.stride(0) ?? 0,
            });
            heaviest = Math.Max(heaviest, (cache.Length + batch.Lengths[j]) * batch.Lengths[j]);
        }
        fixed (Sequence* s = CollectionsMarshal.AsSpan(sequences))
        {
            var job = new Job
            {
                Qk = (ushort*)CpuLinearKernel.Data(rotated), Qkv = (ushort*)CpuLinearKernel.Data(projected), Out = (ushort*)CpuLinearKernel.Data(output),
                Sequences = s, N = n, Count = sequences.Count, Heads = heads, KvHeads = kvHeads, HeadDim = headDim, Scale = 1f / MathF.Sqrt(headDim),
            };
            // Work items are (sequence, KV head) pairs; a short prefix is not worth a second thread's wake-up.
            long work = (long)sequences.Count * kvHeads * heaviest;
            CpuWorkers.Run(work < 4096 ? 1 : LinearDispatch.OwnThreads(), &RunPart, &job);
            if (job.Failed != 0) throw new OutOfMemoryException("the native decode attention could not allocate its scores");
        }
        return output;
    }

    private static void RunPart(void* state, int part, int parts)
    {
        ref var job = ref *(Job*)state;
        int items = job.Count * job.KvHeads;
        int first = (int)((long)items * part / parts), last = (int)((long)items * (part + 1) / parts);
        if (eagle_decode_attention_bf16(job.Qk, job.Qkv, job.Out, job.Sequences, job.N, job.Heads, job.KvHeads, job.HeadDim, job.Scale, first, last) != 0)
            Interlocked.Exchange(ref job.Failed, 1);
    }
}
