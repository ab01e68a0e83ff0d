using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>Plain decoding as a session: the prompt's forward, then one token per step.</summary>
internal sealed class VanillaSession : DecodingSession
{
    private readonly Sampler sampler;
    private readonly KVCache cache;
    private int next = -1;                                                      // the last token, fed by the next step
    private int forwards, rounds;

    /// <summary>Allocates the request's KV cache (prompt + budget, within <paramref name="contextLimit"/>).</summary>
    /// <exception cref="DeviceOutOfMemoryException">The KV cache does not fit in device memory.</exception>
    /// <param name="target">The model.</param>
    /// <param name="prompt">The prompt's ids.</param>
    /// <param name="options">Budget, sampling and stop ids.</param>
    /// <param name="onTokens">Sees each step's tokens; false ends the request.</param>
    /// <param name="contextLimit">Most positions the request may use.</param>
    /// <param name="prefillChunkTokens">Prompt tokens per prefill forward at most.</param>
    /// <param name="reuse">A finished sequence whose common prefix with <paramref name="prompt"/> is copied instead of prefilled.</param>
    public VanillaSession(LlamaForCausalLM target, IReadOnlyList<int> prompt, GenerationOptions options,
        Func<IReadOnlyList<int>, bool>? onTokens = null, int contextLimit = ContextBudget.DefaultContextLimit,
        int prefillChunkTokens = DefaultPrefillChunkTokens, RetainedSequence? reuse = null)
        : base(target, prompt, options, onTokens, prefillChunkTokens)
    {
        sampler = new Sampler(options.Sampling);
        Capacity = ContextBudget.Capacity(prompt.Count, options.MaxNewTokens, 0, contextLimit);
        var config = target.Config;
        Bytes = KVCache.BytesFor(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, Capacity, target.DType);
        // Held for the whole request, whatever dispose scope the caller has open: Dispose frees it.
        using var scope = NewDisposeScope();
        try
        {
            DeviceMemory.Allocating(DeviceMemory.KVCache);
            cache = target.NewCache(Capacity);
            scope.Detach(scope.DisposablesView.ToList());
            // At least one prompt token is always fed: its logits give the first token.
            int reused = reuse is null ? 0 : Math.Min(Math.Min(reuse.CommonPrefix(prompt), prompt.Count - 1), reuse.Cache.Length);
            if (reused > 0)
            {
                cache.CopyPrefixFrom(reuse!.Cache, reused);
                StartAfter(reused);
            }
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e))
        {
            throw new DeviceOutOfMemoryException(Capacity, Bytes, target.Device.ToString(), DeviceMemory.KVCache, e);
        }
    }

    /// <inheritdoc/>
    public override int Capacity { get; }

    /// <inheritdoc/>
    public override long Bytes { get; }

    /// <inheritdoc/>
    public override int MinimumTokens => PrefillComplete ? 1 : NextChunk;

    private protected override ForwardItem PlanStep(Drafting.DraftTree? tree)
    {
        if (!PrefillComplete) return PrefillItem(cache, ForwardRequest.AllLogits);
        var device = Target.Device;
        int past = cache.Length;
        var ids = tensor(new long[] { next }, device: device);
        return new ForwardItem(ids, HeldScalars.Range(past, past + 1, device), cache, null, ForwardRequest.AllLogits);
    }

    private protected override void CompleteStep(TargetOutput output)
    {
        forwards++;
        if (!PrefillComplete)
        {
            bool last = LastChunk;
            ChunkDone();
            if (!last) return;                                                  // a middle chunk only fills the cache
            PrefillDone();
        }
        else rounds++;
        next = sampler.Next(Constrained(output.Logits[0]));
        Emit([next]);
        if (!Done && cache.Length >= Capacity) ContextFull();
    }

    private protected override GenerationStats Statistics() => new() { TargetForwards = forwards, Rounds = rounds };

    private protected override (int Rounds, int AcceptedDraftTokens, int VerifiedTokens) RoundCounters => (rounds, 0, rounds);

    private bool relinquished;

    private protected override (KVCache Cache, Drafting.IDraftState? DraftState) Relinquish()
    {
        relinquished = true;
        return (cache, null);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !relinquished) cache.Dispose();
    }
}
