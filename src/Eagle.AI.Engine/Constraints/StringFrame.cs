namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Inside a JSON string value: valid UTF-8 (possibly split across tokens), escapes, no control characters, and the
/// length bounds counted in characters (an escape is one). <c>\u</c> escapes of surrogates are not produced (a character
/// outside the BMP is written as UTF-8), so every string decodes.
/// </summary>
internal sealed class StringFrame : JsonFrame
{
    // escape: 0 none; 1 after '\'; 2-5 expecting the 1st-4th hex digit of \uXXXX; 6 the 2nd digit after a leading 'd'.
    private readonly StringNode node;
    private readonly int count;
    private readonly Utf8Cursor utf8;
    private readonly byte escape;

    public StringFrame(StringNode node, JsonFrame parent) : this(node, parent, 0, default, 0) { }

    private StringFrame(StringNode node, JsonFrame parent, int count, Utf8Cursor utf8, byte escape) : base(parent)
    {
        this.node = node;
        this.count = count;
        this.utf8 = utf8;
        this.escape = escape;
    }

    public override int PlainRoom => escape == 0 && utf8.AtBoundary ? node.Max - count : -1;

    public override JsonFrame? Step(byte b)
    {
        if (escape != 0) return Escaped(b);
        if (utf8.AtBoundary)
        {
            if (b == '"') return count >= node.Min ? Parent : null;
            if (b < 0x20) return null;
            if (b == '\\') return count < node.Max ? new StringFrame(node, Parent!, count + 1, utf8, 1) : null;
            if (b < 0x80 && !node.Counted) return this;                          // the common case: nothing to track
        }
        if (utf8.Next(b, out bool starts) is not { } next) return null;
        if (starts && count >= node.Max) return null;
        return new StringFrame(node, Parent!, starts ? count + 1 : count, next, 0);
    }

    private StringFrame? Escaped(byte b)
    {
        bool hex = b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');
        byte next = escape switch
        {
            1 => b switch
            {
                (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t' => 0,
                (byte)'u' => 2,
                _ => byte.MaxValue,
            },
            2 => !hex ? byte.MaxValue : b is (byte)'d' or (byte)'D' ? (byte)6 : (byte)3,
            6 => b is >= (byte)'0' and <= (byte)'7' ? (byte)4 : byte.MaxValue,    // \uD800-\uDFFF: a surrogate, never alone
            5 => hex ? (byte)0 : byte.MaxValue,
            _ => hex ? (byte)(escape + 1) : byte.MaxValue,
        };
        return next == byte.MaxValue ? null : new StringFrame(node, Parent!, count, utf8, next);
    }
}
