namespace Eagle.AI.Engine.Text;

/// <summary>
/// GPT-2's <c>bytes_to_unicode</c> alphabet, in which Hugging Face byte-level BPE files spell token bytes:
/// printable bytes stand for themselves and the other 68 bytes map, in byte order, to U+0100 and up.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly short[] s_charToByte = BuildCharToByte();

    /// <summary>Turns a byte-level token string back into its bytes; false when a character is outside the alphabet.</summary>
    public static bool TryDecode(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            if (c >= s_charToByte.Length || s_charToByte[c] < 0)
            {
                return false;
            }
            bytes[i] = (byte)s_charToByte[c];
        }
        return true;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[256 + 68];
        Array.Fill(map, (short)-1);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            map[printable ? b : 256 + shifted++] = (short)b;
        }
        return map;
    }
}
