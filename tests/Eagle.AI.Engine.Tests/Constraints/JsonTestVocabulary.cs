using System.Text;

namespace Eagle.AI.Engine.Tests.Constraints;

/// <summary>
/// A made-up vocabulary of 128 JSON pieces for tiny random models (test model C): every printable ASCII byte and the
/// JSON whitespace alone (so any document can be spelled, as with LLaMA-3's byte tokens), UTF-8 characters split
/// across tokens, and tokens that span grammar boundaries (<c>"}</c>, <c>":</c>, <c>],</c>), escapes, exponents,
/// keywords and property names. Id 2 is the test models' end id (special: no bytes).
/// </summary>
internal static class JsonTestVocabulary
{
    public const int Eos = 2;
    public const int Size = 128;

    private static readonly byte[][] Pieces =
    [
        .. Enumerable.Range(' ', '~' - ' ' + 1).Select(c => new[] { (byte)c }),
        .. new[]
        {
            "\n", "\t", "\r", "\"}", "\":", "],", "\",", "\"]", "}}", "\\n", "\\u00e9", "true", "null", "false", "name", "age",
            "tags", "{\"", "1e5", "3.5", "é", ": \"", "\"},", "]}", "\\\"",
        }.Select(Encoding.UTF8.GetBytes),
        [0xC3], [0xA9], [0xE2, 0x82], [0xAC], [0xF0, 0x9F], [0x98, 0x80], [0xFF],
    ];

    /// <summary>The vocabulary: id 2 special, the other ids the pieces in order.</summary>
    public static byte[]?[] Create()
    {
        var v = new byte[]?[Size];
        for (int id = 0, p = 0; id < Size; id++)
            if (id != Eos) v[id] = Pieces[p++];
        return v;
    }
}
