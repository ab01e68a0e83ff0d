using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// An EAGLE draft head bound to its target: one decoder layer that reads target features and token embeddings and
/// predicts the next token. It lives in the target's dtype and on its device, and borrows the target's embedding table
/// (and, for EAGLE-1, its lm_head) instead of holding copies. If a checkpoint carries its own <c>embed_tokens.weight</c>
/// the head uses that copy instead, as the reference's <c>load_state_dict</c> would (it costs V·H more memory).
/// </summary>
public abstract class EagleHead : nn.Module
{
    /// <summary>The checkpoint's own embedding table [V, H], or null when the target's is borrowed.</summary>
    internal readonly Embedding? embed_tokens;

    // Held in a plain record so that RegisterComponents does not adopt the target's modules as the head's own.
    private readonly Borrowed borrowed;
    private readonly RotaryEmbedding rotary;

    private sealed record Borrowed(LlamaForCausalLM Target);

    // On a draft device of its own the head cannot read the target's tables where they are, so it keeps copies of
    // what it borrows, in a record so RegisterComponents does not make them part of the head's checkpoint.
    private readonly Copies? copies;

    private sealed record Copies(Tensor? Embedding, Tensor LmHead);

    /// <summary>Checks <paramref name="config"/> against <paramref name="target"/> and sets up the shared parts.</summary>
    /// <exception cref="DraftModelMismatchException">Hidden size or vocabulary differ from the target's.</exception>
    private protected EagleHead(string name, EagleHeadConfig config, LlamaForCausalLM target, bool ownEmbedding, string? path, Device? device)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(target);
        config.Validate(path ?? "head config");
        var t = target.Config;
        if (config.HiddenSize != t.HiddenSize)
            throw new DraftModelMismatchException(path, $"hidden_size is {config.HiddenSize}, the target's is {t.HiddenSize}");
        if (config.TargetHiddenSize is { } th && th != t.HiddenSize)
            throw new DraftModelMismatchException(path, $"target_hidden_size is {th}, the target's hidden_size is {t.HiddenSize}");
        if (config.VocabSize != t.VocabSize)
            throw new DraftModelMismatchException(path, $"vocab_size is {config.VocabSize}, the target's is {t.VocabSize}");
        Config = config;
        SourcePath = path;
        DType = target.DType;
        Device = device ?? target.Device;
        borrowed = new Borrowed(target);
        embed_tokens = ownEmbedding ? new Embedding(t.VocabSize, t.HiddenSize, DType, Device) : null;
        if (device is not null)
        {
            // An explicit draft device always gets copies, even when it is the target's, so that path is exercised
            // (and tested) on one-device machines too.
            using var noGrad = no_grad();
            copies = new Copies(ownEmbedding ? null : target.model.embed_tokens.weight.to(Device).detach(), target.LmHeadWeight.to(Device).detach());
        }
        rotary = new RotaryEmbedding(config.HeadDim, config.RopeTheta, null, Device);
    }

    /// <summary>The head's <c>config.json</c>.</summary>
    public EagleHeadConfig Config { get; }
    /// <summary>Which architecture this is.</summary>
    public abstract EagleHeadKind Kind { get; }
    /// <summary>The folder the head was loaded from; null for a head made in memory.</summary>
    public string? SourcePath { get; }
    /// <summary>Weight and activation dtype (the target's).</summary>
    public ScalarType DType { get; }
    /// <summary>Where the weights live (the target's device).</summary>
    public Device Device { get; }
    /// <summary>The target this head drafts for.</summary>
    public LlamaForCausalLM Target => borrowed.Target;
    /// <summary>Whether the head runs on a draft device of its own, holding copies of the target tables it reads.</summary>
    public bool HasOwnDevice => copies is not null;
    /// <summary>The target's lm_head [V, H] on the head's device (EAGLE-1 drafts through it).</summary>
    private protected Tensor TargetLmHead => copies?.LmHead ?? Target.LmHeadWeight;
    /// <summary>H.</summary>
    public int HiddenSize => Config.HiddenSize;
    /// <summary>Rows of the head's log-probabilities: Vd for EAGLE-3, V for EAGLE-1.</summary>
    public abstract int DraftVocabSize { get; }
    /// <summary>What the target must return for this head.</summary>
    internal abstract FeatureRequest Features { get; }
    /// <summary>Width of one target feature row: 3H (EAGLE-3) or H (EAGLE-1).</summary>
    public abstract int FeatureSize { get; }

    /// <summary>A one-layer draft KV cache of <paramref name="capacity"/> positions for this head.</summary>
    internal KVCache NewCache(int capacity) => new(1, Config.NumKeyValueHeads, Config.HeadDim, capacity, DType, Device);

    /// <summary>
    /// Runs n draft positions: <paramref name="hidden"/> [n, F] target features or [n, H] earlier draft outputs,
    /// paired with <paramref name="ids"/> [n] (int64, target vocabulary), at <paramref name="positions"/> [n] (int64),
    /// with <paramref name="mask"/> bool [n, cache.Length + n] (true = attend; null = all visible). Writes the n new K/V
    /// at cache.Length without advancing it. Returns the pre-norm outputs [n, H], which are also the hidden inputs of
    /// the positions that follow them.
    /// </summary>
    internal Tensor Forward(Tensor hidden, Tensor ids, Tensor positions, Tensor? mask, KVCache cache) =>
        Forward(hidden, ids, positions, PackedSequences.One((int)ids.shape[0], cache, mask));

    /// <summary>
    /// <see cref="Forward(Tensor, Tensor, Tensor, Tensor?, KVCache)"/> for several requests' draft positions at once,
    /// packed along the first axis as <paramref name="batch"/> describes (each against its own draft cache and mask):
    /// the head's weights are read once for all of them. The hidden inputs must be all target features or all draft
    /// outputs. No cache is advanced.
    /// </summary>
    internal Tensor Forward(Tensor hidden, Tensor ids, Tensor positions, PackedSequences batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var emb = (copies?.Embedding is { } table ? table.index_select(0, ids)
            : (embed_tokens ?? Target.model.embed_tokens).forward(ids)).unsqueeze(0);      // [1, n, H]
        var (cos, sin) = rotary.Tables(positions, DType);                                // [n, D]
        var h = hidden.dtype == DType ? hidden : hidden.to(DType);
        var y = Layer(h.unsqueeze(0), emb, cos, sin, batch);                              // [1, n, H]
        return y.squeeze(0).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder layer: x [1, n, F or H], emb [1, n, H] → [1, n, H] (writes K/V into each cache's layer 0).</summary>
    private protected abstract Tensor Layer(Tensor x, Tensor emb, Tensor cos, Tensor sin, PackedSequences batch);

    /// <summary>Draft log-probabilities fp32 [n, Vd] of the outputs x [n, H] of <see cref="Forward(Tensor, Tensor, Tensor, PackedSequences)"/>.</summary>
    internal abstract Tensor LogProbs(Tensor x);

    /// <summary>Maps draft-vocabulary ids [..] (int64) to target ids (EAGLE-3: id + d2t[id]; EAGLE-1: the same tensor).</summary>
    internal virtual Tensor ToTarget(Tensor draftIds) => draftIds;

    /// <summary>Host version of <see cref="ToTarget(Tensor)"/> for one id.</summary>
    internal virtual int ToTarget(int draftId) => draftId;

    /// <summary>The target id of every draft id (index = draft id), for restricting draft rows to a grammar's allowed tokens.</summary>
    internal int[] DraftToTargetIds => draftToTarget is { } m && m.Length == DraftVocabSize
        ? m
        : draftToTarget = [.. Enumerable.Range(0, DraftVocabSize).Select(ToTarget)];

    private int[]? draftToTarget;

    /// <summary>Drops the cached <see cref="DraftToTargetIds"/> after the draft-to-target map changed.</summary>
    private protected void ForgetTargetIds() => draftToTarget = null;

    /// <summary>Checkpoint keys the state-dict loader must not expect in the module (read separately or unused).</summary>
    private protected virtual ISet<string> IgnoredKeys => new HashSet<string>(StringComparer.Ordinal) { "t2d" };

    /// <summary>Reads what the state-dict loader does not (EAGLE-3's integer <c>d2t</c>) and checks it against the target.</summary>
    private protected virtual void LoadExtras(ITensorSource source)
    {
    }

    /// <summary>Tensors saved besides the state dict (EAGLE-3's <c>d2t</c>).</summary>
    private protected virtual IEnumerable<KeyValuePair<string, Tensor>> ExtraTensors() => [];

    /// <summary>
    /// Loads the head in <paramref name="folder"/> (<c>config.json</c> plus <c>model.safetensors</c> or
    /// <c>pytorch_model.bin</c>, sharded or not) for <paramref name="target"/>, in the target's dtype and on its device
    /// whatever the stored dtype. The kind is detected from the checkpoint's keys. Loading is strict: every tensor the
    /// head has must be there and nothing else may be (<c>t2d</c> is accepted and ignored).
    /// </summary>
    /// <exception cref="CheckpointException">A file is missing or malformed, or a tensor is missing, unexpected or mis-shaped.</exception>
    /// <exception cref="DraftModelMismatchException">The head does not fit <paramref name="target"/>.</exception>
    /// <param name="folder">The head's folder.</param>
    /// <param name="target">The target it drafts for.</param>
    /// <param name="progress">Called with (tensors loaded, total).</param>
    /// <param name="device">
    /// A device of its own for the head (null = the target's home device). The head then holds copies of the target
    /// tables it reads (the embedding; EAGLE-1 also the lm_head), features go to it and draft trees come back.
    /// </param>
    public static EagleHead Load(string folder, LlamaForCausalLM target, Action<int, int>? progress = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        var config = EagleHeadConfig.Load(folder);
        using var source = Checkpoint.Open(folder);
        var kind = config.DetectKind(source.Tensors, source.Path);
        bool ownEmbedding = source.Tensors.ContainsKey("embed_tokens.weight");
        EagleHead head = kind == EagleHeadKind.Eagle3
            ? new Eagle3Head(config, target, ownEmbedding, folder, device)
            : new Eagle1Head(config, target, ownEmbedding, folder, device);
        try
        {
            StateDictLoader.Load(head, source, strict: true, ignore: head.IgnoredKeys, progress: progress);
            head.LoadExtras(source);
            return head;
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> (borrowed target tensors are not written).</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        (Config with { TorchDtype = TorchRuntime.Name(DType) }).Save(folder);
        var tensors = state_dict().Concat(ExtraTensors()).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors,
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Parameter count (borrowed target tensors excluded).</summary>
    public long ParameterCount => parameters().Sum(p => p.NumberOfElements);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            rotary.Dispose();
            copies?.Embedding?.Dispose();
            copies?.LmHead.Dispose();
        }
        base.Dispose(disposing);
    }
}
