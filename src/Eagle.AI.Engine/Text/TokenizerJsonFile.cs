using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>The parts of a Hugging Face LLaMA-3 <c>tokenizer.json</c> we use: token bytes by rank and special-token names.</summary>
/// <param name="TokenBytes">Bytes of the 128000 ordinary tokens; the index is both the id and the tiktoken rank.</param>
/// <param name="SpecialNames">Names of the 256 special tokens, index 0 being id 128000.</param>
internal sealed record TokenizerJsonContents(byte[][] TokenBytes, string[] SpecialNames);

/// <summary>
/// Reads a Hugging Face byte-level BPE <c>tokenizer.json</c> as tiktoken ranks. LLaMA-3's file was converted from Meta's
/// tiktoken ranks, so rank = id; we check that this conversion is exact (dense ids, the LLaMA-3 pre-tokenizer, and merges
/// that are precisely the rank-ordered pairs tiktoken would merge) before trusting it, and reject anything else.
/// </summary>
internal static class TokenizerJsonFile
{
    /// <summary>Reads and validates the whole file.</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or not a LLaMA-3 tokenizer.</exception>
    public static TokenizerJsonContents Read(string path)
    {
        using var document = Parse(path);
        var root = document.RootElement;
        var model = Property(root, "model", JsonValueKind.Object, path);
        if (model.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "BPE")
        {
            throw NotLlama3(path, $"model type is '{type.GetString()}', expected byte-level BPE");
        }
        var (tokenBytes, ids) = ReadVocabulary(Property(model, "vocab", JsonValueKind.Object, path), path);
        var specialNames = ReadSpecialNames(root, path);
        CheckPreTokenizer(root, path);
        CheckMerges(Property(model, "merges", JsonValueKind.Array, path), ids, path);
        return new TokenizerJsonContents(tokenBytes, specialNames);
    }

    /// <summary>Reads only the special-token names (used when the ranks come from <c>original/tokenizer.model</c>).</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or its special tokens are not LLaMA-3's.</exception>
    public static string[] ReadSpecialNames(string path)
    {
        using var document = Parse(path);
        return ReadSpecialNames(document.RootElement, path);
    }

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {e.Message}", e);
        }
    }

    private static (byte[][] TokenBytes, Dictionary<string, int> Ids) ReadVocabulary(JsonElement vocab, string path)
    {
        var ids = new Dictionary<string, int>(Llama3SpecialTokens.BaseVocabularySize, StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
            {
                throw NotLlama3(path, $"vocabulary entry '{entry.Name}' has a non-integer id");
            }
            if (!ids.TryAdd(entry.Name, id))
            {
                throw NotLlama3(path, $"vocabulary entry '{entry.Name}' appears twice");
            }
        }
        if (ids.Count != Llama3SpecialTokens.BaseVocabularySize)
        {
            throw NotLlama3(path, $"the vocabulary has {ids.Count} entries, expected {Llama3SpecialTokens.BaseVocabularySize}");
        }

        var tokenBytes = new byte[Llama3SpecialTokens.BaseVocabularySize][];
        foreach (var (token, id) in ids)
        {
            if (id is < 0 or >= Llama3SpecialTokens.BaseVocabularySize || tokenBytes[id] is not null)
            {
                throw NotLlama3(path, $"vocabulary id {id} is out of range or used twice, so ids are not tiktoken ranks");
            }
            if (!ByteLevelAlphabet.TryDecode(token, out tokenBytes[id]))
            {
                throw NotLlama3(path, $"vocabulary entry '{token}' is not byte-level encoded");
            }
        }
        return (tokenBytes, ids);
    }

    private static string[] ReadSpecialNames(JsonElement root, string path)
    {
        var names = new string[Llama3SpecialTokens.Count];
        foreach (var token in Property(root, "added_tokens", JsonValueKind.Array, path).EnumerateArray())
        {
            if (!token.TryGetProperty("id", out var idElement) || !idElement.TryGetInt32(out int id)
                || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw NotLlama3(path, "an added token has no integer 'id' or no string 'content'");
            }
            if (!Llama3SpecialTokens.IsSpecial(id) || names[id - Llama3SpecialTokens.BaseVocabularySize] is not null)
            {
                throw NotLlama3(path, $"added token id {id} is outside 128000-128255 or used twice");
            }
            names[id - Llama3SpecialTokens.BaseVocabularySize] = content.GetString()!;
        }
        for (int i = 0; i < names.Length; i++)
        {
            if (names[i] is null)
            {
                throw NotLlama3(path, $"special token {Llama3SpecialTokens.BaseVocabularySize + i} is missing from added_tokens");
            }
        }
        // These five are named identically by every LLaMA-3 release; the chat format depends on them.
        foreach (int id in new[]
        {
            Llama3SpecialTokens.BeginOfText, Llama3SpecialTokens.EndOfText, Llama3SpecialTokens.StartHeader,
            Llama3SpecialTokens.EndHeader, Llama3SpecialTokens.EndOfTurn,
        })
        {
            string expected = Llama3SpecialTokens.DefaultName(id);
            string actual = names[id - Llama3SpecialTokens.BaseVocabularySize];
            if (actual != expected)
            {
                throw NotLlama3(path, $"special token {id} is '{actual}', expected '{expected}'");
            }
        }
        return names;
    }

    private static void CheckPreTokenizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var preTokenizer) || !ContainsRegex(preTokenizer, Llama3Tokenizer.PreTokenizerPattern))
        {
            throw NotLlama3(path, "the pre-tokenizer does not split with the LLaMA-3 regex");
        }
    }

    private static bool ContainsRegex(JsonElement element, string pattern) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Any(p =>
            (p.Name == "Regex" && p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == pattern) || ContainsRegex(p.Value, pattern)),
        JsonValueKind.Array => element.EnumerateArray().Any(e => ContainsRegex(e, pattern)),
        _ => false,
    };

    /// <summary>
    /// Tiktoken merges the adjacent pair whose concatenation has the lowest rank; HF BPE merges the pair listed first.
    /// They agree when the merge list holds exactly the pairs (a, b) with a, b and ab all tokens, ordered by the rank of ab.
    /// </summary>
    private static void CheckMerges(JsonElement merges, Dictionary<string, int> ids, string path)
    {
        var lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        var listed = new HashSet<long>();
        int previousRank = -1;
        int index = 0;
        Span<char> joined = stackalloc char[256];
        foreach (var merge in merges.EnumerateArray())
        {
            if (!TrySplitMerge(merge, out var left, out var right)
                || !lookup.TryGetValue(left, out int leftId) || !lookup.TryGetValue(right, out int rightId)
                || !lookup.TryGetValue(Join(left, right, joined), out int rank))
            {
                throw NotLlama3(path, $"merge #{index} ({merge.GetRawText()}) does not join two tokens into a token");
            }
            if (rank < previousRank)
            {
                throw NotLlama3(path, $"merge #{index} ({merge.GetRawText()}) is out of rank order, so merges disagree with the ids");
            }
            listed.Add(PairKey(leftId, rightId));
            previousRank = rank;
            index++;
        }

        int pairs = 0;
        foreach (var token in ids.Keys)
        {
            for (int split = 1; split < token.Length; split++)
            {
                if (lookup.TryGetValue(token.AsSpan(0, split), out int leftId) && lookup.TryGetValue(token.AsSpan(split), out int rightId))
                {
                    pairs++;
                    if (!listed.Contains(PairKey(leftId, rightId)))
                    {
                        throw NotLlama3(path, $"no merge joins '{token[..split]}' and '{token[split..]}' although '{token}' is a token");
                    }
                }
            }
        }
        if (pairs != listed.Count)
        {
            throw NotLlama3(path, $"the merge list has {listed.Count} distinct pairs, expected {pairs}");
        }
    }

    private static bool TrySplitMerge(JsonElement merge, out ReadOnlySpan<char> left, out ReadOnlySpan<char> right)
    {
        left = right = default;
        if (merge.ValueKind == JsonValueKind.String)
        {
            // Byte-level tokens never contain a space (it is spelled 'Ġ'), so the single space separates the pair.
            ReadOnlySpan<char> text = merge.GetString();
            int space = text.IndexOf(' ');
            if (space <= 0 || space != text.LastIndexOf(' '))
            {
                return false;
            }
            left = text[..space];
            right = text[(space + 1)..];
            return true;
        }
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
            && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
        {
            left = merge[0].GetString();
            right = merge[1].GetString();
            return true;
        }
        return false;
    }

    private static ReadOnlySpan<char> Join(ReadOnlySpan<char> left, ReadOnlySpan<char> right, Span<char> buffer)
    {
        if (left.Length + right.Length > buffer.Length)
        {
            return string.Concat(left, right);
        }
        left.CopyTo(buffer);
        right.CopyTo(buffer[left.Length..]);
        return buffer[..(left.Length + right.Length)];
    }

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    private static JsonElement Property(JsonElement element, string name, JsonValueKind kind, string path) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == kind
            ? value
            : throw NotLlama3(path, $"no '{name}' {kind.ToString().ToLowerInvariant()} found");

    private static InvalidDataException NotLlama3(string path, string reason) =>
        new($"'{path}' is not a LLaMA-3 tokenizer: {reason}.");
}
