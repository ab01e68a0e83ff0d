using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// What a finished session leaves for later requests that share its prefix (<see cref="DecodingSession.Retain"/>): its
/// target KV cache, which holds exactly <see cref="Tokens"/> (the prompt and the output, up to what was fed to the
/// target: only committed, emitted tokens), and a speculative session's drafting state. A new session copies the
/// prefix it can use and prefills only the rest (<see cref="PrefixCache"/>).
/// </summary>
internal sealed class RetainedSequence : IDisposable
{
    internal RetainedSequence(IReadOnlyList<int> tokens, KVCache cache, IDraftState? draftState)
    {
        Tokens = tokens;
        Cache = cache;
        DraftState = draftState;
    }

    /// <summary>The tokens whose K/V the cache holds, in order.</summary>
    public IReadOnlyList<int> Tokens { get; }

    /// <summary>The target's K/V of <see cref="Tokens"/>.</summary>
    public KVCache Cache { get; }

    /// <summary>A speculative session's drafting state (its committed pairs are a prefix of <see cref="Tokens"/>); null for vanilla.</summary>
    public IDraftState? DraftState { get; }

    /// <summary>Positions this entry holds on the device (the target cache's capacity, trimmed to its tokens when it was retained), what a <see cref="PrefixCache"/> budget counts.</summary>
    public int Positions => Cache.Capacity;

    /// <summary>How many leading tokens of <paramref name="prompt"/> equal this sequence's.</summary>
    public int CommonPrefix(IReadOnlyList<int> prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        int n = Math.Min(prompt.Count, Tokens.Count), i = 0;
        while (i < n && prompt[i] == Tokens[i]) i++;
        return i;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Cache.Dispose();
        DraftState?.Dispose();
    }
}
