using System.Text;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// Turns accepted ids into text while they are generated. Speculative decoding accepts several ids per step, so ids come
/// in batches. Only complete UTF-8 characters are emitted (a character split across tokens waits for its last byte), and
/// text that could still grow into a stop string is held back until it cannot. Concatenating every
/// <see cref="DetokenizedText.Text"/> up to and including <see cref="Flush"/> gives exactly the full decode, cut before
/// the first stop string. Generation stops at the earliest point where any stop string is complete; when several end
/// there, the longest wins. Not thread-safe: one instance per generation.
/// </summary>
public sealed class IncrementalDetokenizer
{
    private readonly Llama3Tokenizer _tokenizer;
    private readonly string[] _stopStrings;
    private readonly bool _includeSpecialTokens;
    // A stateful UTF-8 decoder carries an incomplete character over to the next batch, as a single full decode would.
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly StringBuilder _held = new();
    private char[] _chars = new char[256];

    /// <summary>Creates a detokenizer for one generation.</summary>
    /// <param name="tokenizer">The tokenizer whose ids are decoded.</param>
    /// <param name="stopStrings">Strings that end generation; the text before the first one is emitted, nothing after.</param>
    /// <param name="includeSpecialTokens">Whether special ids appear as their names; by default they produce no text.</param>
    /// <exception cref="ArgumentException">A stop string is empty.</exception>
    public IncrementalDetokenizer(Llama3Tokenizer tokenizer, IEnumerable<string>? stopStrings = null, bool includeSpecialTokens = false)
    {
        _tokenizer = tokenizer;
        _stopStrings = stopStrings?.Distinct(StringComparer.Ordinal).ToArray() ?? [];
        if (_stopStrings.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("Stop strings must not be empty.", nameof(stopStrings));
        }
        _includeSpecialTokens = includeSpecialTokens;
    }

    /// <summary>The stop string that ended generation, or null while none has been hit.</summary>
    public string? StopString { get; private set; }

    /// <summary>True once a stop string was hit or <see cref="Flush"/> was called; further ids are ignored.</summary>
    public bool IsFinished { get; private set; }

    /// <summary>Adds the ids accepted in one step.</summary>
    /// <param name="ids">Accepted ids, in order.</param>
    /// <returns>The text that became safe to emit, and the stop string if one was hit.</returns>
    public DetokenizedText Append(ReadOnlySpan<int> ids)
    {
        if (IsFinished)
        {
            return new DetokenizedText("", null);
        }
        foreach (int id in ids)
        {
            if (_includeSpecialTokens || !_tokenizer.IsSpecial(id))
            {
                Decode(_tokenizer.GetTokenBytes(id), flush: false);
            }
        }
        return Release(final: false);
    }

    /// <summary>Ends generation: emits everything held back; an incomplete trailing character becomes U+FFFD.</summary>
    /// <returns>The remaining text, and the stop string if one was hit by the flushed text.</returns>
    public DetokenizedText Flush()
    {
        if (IsFinished)
        {
            return new DetokenizedText("", null);
        }
        Decode([], flush: true);
        return Release(final: true);
    }

    private void Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush);
        if (needed > _chars.Length)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }
        int written = _utf8.GetChars(bytes, _chars, flush);
        _held.Append(_chars, 0, written);
    }

    private DetokenizedText Release(bool final)
    {
        string held = _held.ToString();
        if (FindStop(held) is var (start, stop))
        {
            StopString = stop;
            IsFinished = true;
            _held.Clear();
            return new DetokenizedText(held[..start], stop);
        }
        int keep = final ? 0 : LongestStopPrefixSuffix(held);
        _held.Clear().Append(held, held.Length - keep, keep);
        IsFinished = final;
        return new DetokenizedText(held[..^keep], null);
    }

    /// <summary>The stop string that completes earliest in <paramref name="text"/> (longest on a tie), and where it starts.</summary>
    private (int Start, string Stop)? FindStop(string text)
    {
        (int Start, string Stop)? best = null;
        int bestEnd = int.MaxValue;
        foreach (string stop in _stopStrings)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }
            int end = at + stop.Length;
            if (end < bestEnd || (end == bestEnd && at < best!.Value.Start))
            {
                (best, bestEnd) = ((at, stop), end);
            }
        }
        return best;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that a stop string starts with (a stop may still complete there).</summary>
    private int LongestStopPrefixSuffix(string text)
    {
        int longest = 0;
        foreach (string stop in _stopStrings)
        {
            for (int length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
