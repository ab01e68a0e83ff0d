using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>Plain decoding as a session: the prompt's forward, then one token per step.</summary>
public sealed class VanillaSession : DecodingSession
{
    private readonly Sampler sampler;
    private readonly KVCache cache;
    private int[] next;
    private int forwards;

    /// <summary>Allocates the request's KV cache (prompt + budget, within <paramref name="contextLimit"/>).</summary>
    /// <exception cref="DeviceOutOfMemoryException">The KV cache does not fit in device memory.</exception>
    public VanillaSession(LlamaForCausalLM target, IReadOnlyList<int> prompt, GenerationOptions options,
        Func<IReadOnlyList<int>, bool>? onTokens = null, int contextLimit = ContextBudget.DefaultContextLimit)
        : base(target, prompt, options, onTokens)
    {
        sampler = new Sampler(options.Sampling);
        Capacity = ContextBudget.Capacity(prompt.Count, options.MaxNewTokens, 0, contextLimit, int.MaxValue);
        var config = target.Config;
        Bytes = KVCache.BytesFor(config.NumHiddenLayers, config.NumKeyValueHeads, config.HeadDim, Capacity, target.DType);
        // Held for the whole request, whatever dispose scope the caller has open: Dispose frees it.
        using var scope = NewDisposeScope();
        try
        {
            DeviceMemory.Allocating(DeviceMemory.KVCache);
            cache = target.NewCache(Capacity);
            scope.Detach(scope.DisposablesView.ToList());
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e))
        {
            throw new DeviceOutOfMemoryException(Capacity, Bytes, target.Device.ToString(), DeviceMemory.KVCache, e);
        }
        next = [.. prompt];
    }

    /// <inheritdoc/>
    public override int Capacity { get; }

    /// <inheritdoc/>
    public override long Bytes { get; }

    /// <inheritdoc/>
    public override int MinimumTokens => next.Length;

    private protected override ForwardItem PlanStep(BatchLoad load)
    {
        var device = Target.Device;
        int n = next.Length, past = cache.Length;
        var ids = tensor(next.Select(t => (long)t).ToArray(), device: device);
        var last = tensor(new long[] { n - 1 }, device: device);
        return new ForwardItem(ids, HeldScalars.Range(past, past + n, device), cache, null, new ForwardRequest(LogitRows: last));
    }

    private protected override void CompleteStep(TargetOutput output)
    {
        int token = sampler.Next(output.Logits[0]);
        if (++forwards == 1) PrefillDone();
        Emit([token]);
        if (!Done && cache.Length >= Capacity) ContextFull();
        next = [token];
    }

    private protected override GenerationStats Statistics() => new() { TargetForwards = forwards, Rounds = Math.Max(0, forwards - 1) };

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) cache.Dispose();
    }
}
