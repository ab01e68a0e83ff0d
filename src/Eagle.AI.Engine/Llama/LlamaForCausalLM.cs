using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// The LLaMA-3 target model. Field names are the Hugging Face keys (<c>model.layers.N.self_attn.q_proj.weight</c>,
/// <c>lm_head.weight</c>), so a checkpoint loads strictly with no key map. One forward handles prefill, one-token
/// decode and tree verification alike: n new tokens at arbitrary positions with an arbitrary [n, past + n] mask.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    /// <summary>The decoder stack.</summary>
    internal readonly LlamaModel model;
    /// <summary>[V, H]; null when the embeddings are tied.</summary>
    internal readonly Projection? lm_head;
    private readonly RotaryEmbedding rotary;

    /// <summary>
    /// Creates an uninitialised model (fill it with <see cref="LlamaCheckpoint.Load(string, LoadPlan, Action{int, int}?)"/> or <see cref="RandomWeights"/>), its decoder layers
    /// spread as <paramref name="placement"/> says (default: all on <paramref name="device"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="placement"/> does not start on <paramref name="device"/> or does not cover the model's layers exactly.</exception>
    public LlamaForCausalLM(LlamaConfig config, ScalarType dtype, Device device, LayerPlacement? placement = null) : base(nameof(LlamaForCausalLM))
    {
        ArgumentNullException.ThrowIfNull(config);
        Placement = placement ?? LayerPlacement.Single(device, config.NumHiddenLayers);
        if (!TorchRuntime.SameDevice(Placement.Home, device))
            throw new ArgumentException($"layer placement '{Placement}' must start on the model's device {device}", nameof(placement));
        if (Placement.Mismatch(config.NumHiddenLayers) is { } why)
            throw new ArgumentException($"layer placement '{Placement}': {why}", nameof(placement));
        Config = config;
        DType = dtype;
        Device = device;
        GatherDecodeAttention = Environment.GetEnvironmentVariable("EAGLE_GATHER_ATTENTION") switch
        {
            "1" => true,
            "0" => false,
            _ => device.type == DeviceType.CUDA,
        };
        model = new LlamaModel(config, dtype, device, Placement);
        lm_head = config.TieWordEmbeddings ? null : new Projection(config.HiddenSize, config.VocabSize, dtype, device);
        rotary = new RotaryEmbedding(config.HeadDim, config.RopeTheta, config.RopeScaling, device);
        RegisterComponents();
    }

    /// <summary>The model's <c>config.json</c>.</summary>
    public LlamaConfig Config { get; }
    /// <summary>Weight and activation dtype.</summary>
    public ScalarType DType { get; }
    /// <summary>The home device: embedding, final norm, lm_head; every input and output of <see cref="Forward(IReadOnlyList{ForwardItem})"/> lives here.</summary>
    public Device Device { get; }
    /// <summary>
    /// Whether a batched forward attends its one-token sequences in one call (<see cref="GatheredAttention"/>): on by
    /// default on CUDA, where a decode step is bound by kernel launches; off on a CPU, where the masked-out products cost
    /// more than the calls they save. The environment variable <c>EAGLE_GATHER_ATTENTION</c> (1 or 0) sets the default
    /// for either device, for comparisons; settable so tests run the gathered path on the CPU.
    /// </summary>
    internal bool GatherDecodeAttention { get; set; }

    /// <summary>Which device runs which decoder layers (one segment on <see cref="Device"/> unless split).</summary>
    public LayerPlacement Placement { get; }

    /// <summary>
    /// Whether every layer runs q/k/v and gate/up as one GEMM each over their shared weight storage (the default; see
    /// <see cref="LlamaAttention.Fused"/>). Both settings compute the same function; false runs one GEMM per projection,
    /// for comparisons and measurements.
    /// </summary>
    internal bool FusedProjections
    {
        get => model.layers.All(l => l.self_attn.Fused && l.mlp.Fused);
        set
        {
            foreach (var l in model.layers)
            {
                l.self_attn.Fused = value;
                l.mlp.Fused = value;
            }
        }
    }

    /// <summary>The lm_head matrix [V, H] (the embedding table when tied).</summary>
    public Tensor LmHeadWeight => lm_head?.weight ?? model.embed_tokens.weight;

    /// <summary>A new KV cache for one request of up to <paramref name="capacity"/> positions.</summary>
    internal KVCache NewCache(int capacity) => CachePool is { } pool ? pool.Rent(capacity, AllocateCache) : AllocateCache(capacity);

    private KVCache AllocateCache(int capacity) =>
        new(Config.NumKeyValueHeads, Config.HeadDim, capacity, DType,
            Enumerable.Range(0, Config.NumHiddenLayers).Select(Placement.DeviceOf).ToArray());

    /// <summary>
    /// Where <see cref="NewCache"/> takes its caches from when set (a serving engine's KV slots, reused request after
    /// request); null = a new cache each time. The pool is the setter's to dispose.
    /// </summary>
    internal KVCachePool? CachePool { get; set; }

    /// <summary>
    /// Runs n new tokens <paramref name="ids"/> [n] (int64) at <paramref name="positions"/> [n] after the cache's
    /// committed prefix, with <paramref name="mask"/> bool [n, past + n] (true = attend; null = causal). Writes their K/V
    /// into <paramref name="cache"/> and advances it by n.
    /// </summary>
    internal TargetOutput Forward(Tensor ids, Tensor positions, KVCache cache, Tensor? mask, ForwardRequest request) =>
        Forward([new ForwardItem(ids, positions, cache, mask, request)])[0];

    /// <summary>
    /// One forward for several sequences (each an independent request with its own cache): their new tokens go through
    /// the decoder layers together — every weight is read once for all of them — while each attends only to its own
    /// cache with its own mask and gets its own logits, features and hidden states, as if it had run alone.
    /// </summary>
    /// <exception cref="ArgumentException">No items, two items share a cache, or they capture different layers.</exception>
    internal IReadOnlyList<TargetOutput> Forward(IReadOnlyList<ForwardItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("at least one sequence is needed", nameof(items));
        if (items.Select(i => i.Cache).Distinct().Count() != items.Count)
            throw new ArgumentException("each sequence needs a cache of its own", nameof(items));
        var lengths = items.Select(i => (int)i.Ids.shape[0]).ToArray();
        for (int j = 0; j < items.Count; j++) items[j].Cache.EnsureRoom(lengths[j]);
        using var scope = NewDisposeScope();
        var masks = items.Select((i, j) => i.Mask ?? (lengths[j] == 1 ? null : CausalMask(i.Cache.Length, lengths[j], Device))).ToArray();
        var batch = new PackedSequences(lengths, items.Select(i => i.Cache).ToArray(), masks)
        {
            Gathered = GatherDecodeAttention
                ? GatheredAttention.Plan(lengths, [.. items.Select(i => i.Cache.Length)], masks, Config.NumAttentionHeads / Config.NumKeyValueHeads, Device)
                : null,
        };
        bool one = items.Count == 1;
        var ids = one ? items[0].Ids : cat(items.Select(i => i.Ids).ToArray());
        var positions = one ? items[0].Positions : cat(items.Select(i => i.Positions).ToArray());
        var x = model.embed_tokens.forward(ids).unsqueeze(0);                  // [1, N, H]
        var (cos, sin) = rotary.Tables(positions, DType);                       // [N, D]
        var captureLayers = items.Select(i => i.Request.CaptureLayers).FirstOrDefault(c => c is not null);
        if (items.Any(i => i.Request.CaptureLayers is { } c && !c.SequenceEqual(captureLayers!)))
            throw new ArgumentException("the sequences of one forward must capture the same layers", nameof(items));
        var captured = new List<Tensor>();
        for (int g = 0; g < Placement.Segments.Count; g++)
        {
            // A segment on another device gets the hidden state, rope tables and masks there; the first is home.
            var segment = Placement.Segments[g];
            bool home = g == 0;
            x = home ? x : x.to(segment.Device);
            var (c, s, b) = home ? (cos, sin, batch) : (cos.to(segment.Device), sin.to(segment.Device), batch.WithMasksOn(segment.Device));
            for (int i = segment.First; i <= segment.Last; i++)
            {
                if (captureLayers is not null && Array.IndexOf(captureLayers, i) >= 0)
                    captured.Add(home ? x : x.to(Device));                      // residual stream entering layer i
                x = model.layers[i].forward(x, c, s, b);
            }
        }
        var h = model.norm.forward(x.to(Device)).squeeze(0);                   // [N, H]
        var features = captured.Count == 0 ? null : cat(captured, -1).squeeze(0);     // [N, k·H]

        // One lm_head GEMM over the rows every sequence asked for, then split back per sequence.
        var rowParts = new Tensor[items.Count];
        var rowCounts = new long[items.Count];
        for (int j = 0; j < items.Count; j++)
        {
            var wanted = items[j].Request.LogitRows;
            rowParts[j] = wanted is null ? HeldScalars.Range(batch.Offsets[j], batch.Offsets[j] + lengths[j], Device)
                : one ? wanted : wanted.Plus((long)batch.Offsets[j]);
            rowCounts[j] = rowParts[j].shape[0];
        }
        var rows = one && items[0].Request.LogitRows is null ? h : h.index_select(0, one ? rowParts[0] : cat(rowParts));
        var logits = rows.shape[0] == 0                                         // e.g. only middle chunks of prompts
            ? empty(0, Config.VocabSize, ScalarType.Float32, Device)
            : LinearDispatch.ApplyFloat32(rows, LmHeadWeight);                  // [R, V] fp32
        var outputs = new TargetOutput[items.Count];
        long first = 0;
        for (int j = 0; j < items.Count; j++)
        {
            var request = items[j].Request;
            // Views of the shared outputs (the whole tensor when there is one sequence).
            outputs[j] = new TargetOutput(
                logits.narrow(0, first, rowCounts[j]).MoveToOuterDisposeScope(),
                request.CaptureLayers is null || features is null ? null : features.narrow(0, batch.Offsets[j], lengths[j]).MoveToOuterDisposeScope(),
                request.FinalHidden ? h.narrow(0, batch.Offsets[j], lengths[j]).MoveToOuterDisposeScope() : null);
            first += rowCounts[j];
        }
        // Committed last: a forward that fails (e.g. out of memory in the lm_head) leaves every cache as it was, so
        // its sequences can be run again.
        for (int j = 0; j < items.Count; j++) items[j].Cache.Advance(lengths[j]);
        return outputs;
    }

    /// <summary>
    /// Logits [r, V] in the model's dtype for final-norm hidden states <paramref name="h"/> [r, H]: the lm_head product
    /// (on the CPU for a few rows, the AVX-512 kernel; see <see cref="LinearDispatch"/>).
    /// </summary>
    internal Tensor LmHead(Tensor h) => LinearDispatch.Apply(h, LmHeadWeight);

    /// <summary>Causal mask bool [n, past + n]: every new token sees the whole committed prefix and the new tokens up to itself.</summary>
    internal static Tensor CausalMask(int past, int n, Device device)
    {
        using var scope = NewDisposeScope();
        var m = ones([n, past + n], ScalarType.Bool, device).tril(past);
        return m.MoveToOuterDisposeScope();
    }

    /// <summary>Parameter count.</summary>
    public long ParameterCount => parameters().Sum(p => p.NumberOfElements);

    /// <summary>Bytes of all weights (what one decode step must read).</summary>
    public long WeightBytes => parameters().Sum(p => p.NumberOfElements * p.ElementSize);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) rotary.Dispose();
        base.Dispose(disposing);
    }
}
