using System.Text;

namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// The string formats constrained decoding can enforce cheaply, as every shape the text may take (quotes included), each
/// a byte template where bytes from 0x80 stand for a character class. Only values every common parser accepts are
/// produced: days stop at 28 (no month is shorter), years start at 1000, fractions have 1-6 digits.
/// </summary>
internal static class StringFormats
{
    private const byte Digit = 0x80, NonZero = 0x81, Upto2 = 0x82, Upto8 = 0x83, Upto1 = 0x84, Upto3 = 0x85, Upto5 = 0x86, Hex = 0x87, Sign = 0x88;

    /// <summary>The templates of <paramref name="format"/>, or null when it is not supported.</summary>
    public static LiteralNode? Get(string format) => format switch
    {
        "date-time" => DateTime.Value,
        "date" => Date.Value,
        "uuid" => Uuid.Value,
        _ => null,
    };

    // Year 1000-9999, month 01-12, day 01-28.
    private static readonly string[] DateParts =
        [.. from m in new[] { $"0{(char)NonZero}", $"1{(char)Upto2}" }
            from d in new[] { $"0{(char)NonZero}", $"1{(char)Digit}", $"2{(char)Upto8}" }
            select $"{(char)NonZero}{(char)Digit}{(char)Digit}{(char)Digit}-{m}-{d}"];

    private static readonly string[] Hours = [$"{(char)Upto1}{(char)Digit}", $"2{(char)Upto3}"];
    private static readonly string[] Sixty = [$"{(char)Upto5}{(char)Digit}"];

    private static readonly Lazy<LiteralNode> DateTime = new(() => Node(
        ["\""], DateParts, ["T"], Hours, [":"], Sixty, [":"], Sixty,
        ["", .. Enumerable.Range(1, 6).Select(n => "." + new string((char)Digit, n))],
        ["Z", .. Hours.Select(h => (char)Sign + h + ":" + Sixty[0])], ["\""]));

    private static readonly Lazy<LiteralNode> Date = new(() => Node(["\""], DateParts, ["\""]));

    private static readonly Lazy<LiteralNode> Uuid = new(() => Node(
        ["\"" + string.Join("-", new[] { 8, 4, 4, 4, 12 }.Select(n => new string((char)Hex, n))) + "\""]));

    // Every combination of one alternative per part, as bytes (the class markers are single chars below 0x100).
    private static LiteralNode Node(params string[][] parts)
    {
        IEnumerable<string> all = [""];
        foreach (var part in parts) all = all.SelectMany(prefix => part.Select(p => prefix + p)).ToList();
        return new LiteralNode([.. all.Select(s => Encoding.Latin1.GetBytes(s))], classes: true);
    }

    /// <summary>Whether <paramref name="b"/> matches template byte <paramref name="t"/>.</summary>
    public static bool Matches(byte t, byte b) => t switch
    {
        < 0x80 => b == t,
        Digit => b is >= (byte)'0' and <= (byte)'9',
        NonZero => b is >= (byte)'1' and <= (byte)'9',
        Upto2 => b is >= (byte)'0' and <= (byte)'2',
        Upto8 => b is >= (byte)'0' and <= (byte)'8',
        Upto1 => b is (byte)'0' or (byte)'1',
        Upto3 => b is >= (byte)'0' and <= (byte)'3',
        Upto5 => b is >= (byte)'0' and <= (byte)'5',
        Hex => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F'),
        Sign => b is (byte)'+' or (byte)'-',
        _ => false,
    };
}
