using Eagle.AI.Engine.Llama;

namespace Eagle.AI.Engine.Decoding;

/// <summary>Plain decoding, one target forward per token: the baseline speculative decoding must equal and beat.</summary>
public sealed class VanillaGenerator(LlamaForCausalLM target, int contextLimit = ContextBudget.DefaultContextLimit)
{
    /// <summary>Prompt tokens one prefill forward takes at most (<see cref="DecodingSession.PrefillChunkTokens"/>).</summary>
    public int PrefillChunkTokens { get; init; } = DecodingSession.DefaultPrefillChunkTokens;

    /// <summary>
    /// A session for <paramref name="prompt"/>, to be stepped alone or batched with others; it starts after the prefix
    /// it shares with <paramref name="reuse"/>, when given.
    /// </summary>
    internal VanillaSession Start(IReadOnlyList<int> prompt, GenerationOptions options, Func<IReadOnlyList<int>, bool>? onTokens = null,
        RetainedSequence? reuse = null) =>
        new(target, prompt, options, onTokens, contextLimit, PrefillChunkTokens, reuse);

    /// <summary>
    /// Prefills <paramref name="prompt"/> (ids used as given: no BOS added) and generates until a stop id, the token
    /// budget or the context limit. <paramref name="onTokens"/> sees each new token as soon as it is chosen.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled between two steps; the tokens seen so far were emitted.</exception>
    public GenerationResult Generate(IReadOnlyList<int> prompt, GenerationOptions options,
        Action<IReadOnlyList<int>>? onTokens = null, CancellationToken cancellationToken = default)
    {
        using var session = Start(prompt, options, onTokens is null ? null : ids => { onTokens(ids); return true; });
        while (!session.Done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.Step();
        }
        return session.Result;
    }
}
