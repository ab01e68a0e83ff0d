using System.Runtime.CompilerServices;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Every token's bytes in one trie, laid out in pre-order (a node's subtree is the index range after it), built once
/// per vocabulary. A mask walks it against a grammar state: a byte the grammar refuses skips its whole subtree, so a
/// step reads only the prefixes that can still continue, instead of decoding the vocabulary.
/// </summary>
public sealed class TokenTrie
{
    // Lazy: a trie being built (e.g. while a model loads) is waited for, never built twice.
    private static readonly ConditionalWeakTable<Llama3Tokenizer, Lazy<TokenTrie>> Cache = [];

    private readonly byte[][] tokenBytes;                                       // per id; empty = never text (special)
    private readonly byte[] label;                                              // per node: the byte into it
    private readonly byte[] depth;                                              // per node: its prefix length (root 0)
    private readonly int[] subtreeEnd;                                          // per node: first index after its subtree
    private readonly int[] tokenStart;                                          // per node + 1: its ids are tokens[start..next start)
    private readonly int[] tokens;
    private readonly bool[] plain;                                              // per node: its path is plain string text (see PlainRoom)
    private readonly bool[] plainSubtree;                                       // per node: so is every path below it
    private readonly int[] characters;                                          // per node: characters its path starts
    private readonly int[] subtreeCharacters;                                   // per node: the most any path below it starts

    /// <summary>Builds the trie of <paramref name="tokenBytes"/> (index = id); null or empty entries (special tokens) are never text.</summary>
    public TokenTrie(IReadOnlyList<byte[]?> tokenBytes)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        this.tokenBytes = [.. tokenBytes.Select(b => b ?? [])];
        var ids = Enumerable.Range(0, this.tokenBytes.Length).Where(i => this.tokenBytes[i].Length > 0)
            .OrderBy(i => this.tokenBytes[i], ByteOrder.Instance).ToArray();
        if (ids.Any(i => this.tokenBytes[i].Length > byte.MaxValue)) throw new ArgumentException("a token is longer than 255 bytes", nameof(tokenBytes));

        // Sorted strings insert in pre-order: each token shares a prefix with the path to the previous one.
        var labels = new List<byte> { 0 };
        var depths = new List<byte> { 0 };
        var ends = new List<int> { 0 };
        var owner = new List<int>(ids.Length);                                  // node of each sorted id
        var path = new List<int> { 0 };                                         // the nodes on the current path, root first
        byte[] previous = [];
        foreach (int id in ids)
        {
            var t = this.tokenBytes[id];
            int common = 0;
            while (common < Math.Min(t.Length, previous.Length) && t[common] == previous[common]) common++;
            while (path.Count > common + 1) { ends[path[^1]] = labels.Count; path.RemoveAt(path.Count - 1); }
            for (int k = common; k < t.Length; k++)
            {
                path.Add(labels.Count);
                labels.Add(t[k]);
                depths.Add((byte)(k + 1));
                ends.Add(0);
            }
            owner.Add(path[^1]);
            previous = t;
        }
        foreach (int node in path) ends[node] = labels.Count;
        label = [.. labels];
        depth = [.. depths];
        subtreeEnd = [.. ends];
        tokenStart = new int[label.Length + 1];
        foreach (int node in owner) tokenStart[node + 1]++;
        for (int i = 0; i < label.Length; i++) tokenStart[i + 1] += tokenStart[i];
        tokens = ids;                                                           // sorted order = node order: ids of one node are adjacent
        MaxDepth = depth.Length == 0 ? 0 : depth.Max();
        (plain, plainSubtree, characters, subtreeCharacters) = PlainText();
    }

    // Which paths are plain text inside a string (no quote, backslash or control byte; valid UTF-8 from a character
    // boundary), how many characters they start, and which subtrees hold nothing else.
    private (bool[] Plain, bool[] Subtree, int[] Characters, int[] SubtreeCharacters) PlainText()
    {
        int n = label.Length;
        var isPlain = new bool[n];
        var chars = new int[n];
        var cursor = new Utf8Cursor[n];
        var parent = new int[n];
        var path = new int[MaxDepth + 1];
        isPlain[0] = true;
        for (int i = 1; i < n; i++)
        {
            int p = path[depth[i] - 1];
            parent[i] = p;
            path[depth[i]] = i;
            byte b = label[i];
            bool starts = false;
            var next = isPlain[p] && b >= 0x20 && b != '"' && b != '\\' ? cursor[p].Next(b, out starts) : null;
            isPlain[i] = next is not null;
            cursor[i] = next ?? default;
            chars[i] = chars[p] + (starts ? 1 : 0);
        }
        var subtree = (bool[])isPlain.Clone();
        var most = (int[])chars.Clone();
        for (int i = n - 1; i >= 1; i--)                                        // children come after their parent
        {
            int p = parent[i];
            subtree[p] &= subtree[i];
            most[p] = Math.Max(most[p], most[i]);
        }
        return (isPlain, subtree, chars, most);
    }

    /// <summary>
    /// The trie of a tokenizer's ordinary tokens, built once (the provider builds it while the model loads; otherwise on
    /// first use) and kept as long as the tokenizer. A call while another thread builds it waits for that build.
    /// </summary>
    public static TokenTrie For(Llama3Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Cache.GetValue(tokenizer, t => new Lazy<TokenTrie>(() => new TokenTrie(
            [.. Enumerable.Range(0, t.VocabularySize).Select(id => t.IsSpecial(id) ? null : t.GetTokenBytes(id).ToArray())]))).Value;
    }

    /// <summary>Whether <see cref="For"/> has built the trie of <paramref name="tokenizer"/> already.</summary>
    internal static bool IsBuilt(Llama3Tokenizer tokenizer) => Cache.TryGetValue(tokenizer, out var trie) && trie.IsValueCreated;

    /// <summary>Ids the trie covers (ordinary and special).</summary>
    public int VocabularySize => tokenBytes.Length;

    /// <summary>Trie nodes, the root included.</summary>
    public int NodeCount => label.Length;

    /// <summary>The longest token, in bytes.</summary>
    public int MaxDepth { get; }

    /// <summary>The bytes of <paramref name="id"/> (empty for a special token or an id outside the vocabulary).</summary>
    public ReadOnlySpan<byte> Bytes(int id) => (uint)id < (uint)tokenBytes.Length ? tokenBytes[id] : [];

    /// <summary>Sets <paramref name="allowed"/>[id] for every ordinary token the grammar accepts from <paramref name="state"/> (others untouched).</summary>
    internal void Allow(JsonFrame state, Span<bool> allowed)
    {
        var states = new JsonFrame[MaxDepth + 1];
        states[0] = state;
        int n = label.Length;
        int room = state.PlainRoom;
        for (int i = 1; i < n;)
        {
            if (room >= 0 && plain[i])
            {
                // Plain text inside a string or key: the state only counts characters, so whole subtrees are decided
                // from the precomputed counts without stepping through them (most of the vocabulary, most of the time).
                if (characters[i] > room) { i = subtreeEnd[i]; continue; }
                if (plainSubtree[i] && subtreeCharacters[i] <= room)
                {
                    for (int k = tokenStart[i]; k < tokenStart[subtreeEnd[i]]; k++)
                        if (tokens[k] < allowed.Length) allowed[tokens[k]] = true;
                    i = subtreeEnd[i];
                    continue;
                }
            }
            var s = states[depth[i] - 1].Step(label[i]);
            if (s is null) { i = subtreeEnd[i]; continue; }                     // nothing under this prefix can match
            states[depth[i]] = s;
            for (int k = tokenStart[i]; k < tokenStart[i + 1]; k++)
                if (tokens[k] < allowed.Length) allowed[tokens[k]] = true;
            i++;
        }
    }

    /// <summary>The state after the bytes of token <paramref name="id"/>, or null when the grammar refuses them (or it is special).</summary>
    internal JsonFrame? Advance(JsonFrame state, int id)
    {
        var bytes = Bytes(id);
        if (bytes.Length == 0) return null;
        var s = state;
        foreach (byte b in bytes)
            if (s.Step(b) is { } next) s = next;
            else return null;
        return s;
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
