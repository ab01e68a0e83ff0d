using System.Text;

namespace Eagle.AI.Engine.Text;

/// <summary>Meta's tiktoken rank file (<c>original/tokenizer.model</c>): one <c>base64(token bytes) rank</c> line per token.</summary>
internal static class TiktokenFile
{
    /// <summary>Parses the file's bytes and checks that the ranks are exactly 0-127999.</summary>
    /// <returns>Token bytes indexed by rank.</returns>
    /// <exception cref="InvalidDataException">The content is not a LLaMA-3 tiktoken rank file.</exception>
    public static byte[][] Read(byte[] content, string path)
    {
        var tokens = new byte[Llama3SpecialTokens.BaseVocabularySize][];
        int lineNumber = 0;
        foreach (var rawLine in Encoding.UTF8.GetString(content).Split('\n'))
        {
            string line = rawLine.TrimEnd('\r');
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }
            int space = line.IndexOf(' ');
            byte[]? bytes = null;
            if (space <= 0 || !int.TryParse(line.AsSpan(space + 1), out int rank) || !TryFromBase64(line[..space], out bytes))
            {
                throw new InvalidDataException(
                    $"'{path}' is not a tiktoken rank file (line {lineNumber} is not 'base64 rank'; LLaMA-2 style SentencePiece models are not LLaMA-3).");
            }
            if ((uint)rank >= (uint)tokens.Length || tokens[rank] is not null)
            {
                throw new InvalidDataException(
                    $"'{path}' is not a LLaMA-3 tokenizer: rank {rank} on line {lineNumber} is outside 0-{tokens.Length - 1} or repeated.");
            }
            tokens[rank] = bytes!;
        }
        int missing = Array.IndexOf(tokens, null);
        if (missing >= 0)
        {
            throw new InvalidDataException($"'{path}' is not a LLaMA-3 tokenizer: rank {missing} is missing (expected ranks 0-{tokens.Length - 1}).");
        }
        return tokens;
    }

    /// <summary>Writes token bytes (indexed by rank) in the same format.</summary>
    public static byte[] Write(byte[][] tokens)
    {
        var text = new StringBuilder(tokens.Length * 16);
        for (int rank = 0; rank < tokens.Length; rank++)
        {
            text.Append(Convert.ToBase64String(tokens[rank])).Append(' ').Append(rank).Append('\n');
        }
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static bool TryFromBase64(string text, out byte[] bytes)
    {
        bytes = new byte[text.Length];
        if (Convert.TryFromBase64String(text, bytes, out int written) && written > 0)
        {
            bytes = bytes[..written];
            return true;
        }
        return false;
    }
}
