namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Where a byte stream stands in UTF-8: how many continuation bytes the current character still needs and the range
/// the next one must fall in (which excludes overlong forms, surrogates and code points above U+10FFFF). A token may
/// end in the middle of a character; the next token must then finish it.
/// </summary>
internal readonly record struct Utf8Cursor(byte Needed, byte Low, byte High)
{
    /// <summary>Between characters.</summary>
    public bool AtBoundary => Needed == 0;

    /// <summary>The cursor after <paramref name="b"/>, or null when <paramref name="b"/> cannot come next. <paramref name="starts"/>: b begins a character.</summary>
    public Utf8Cursor? Next(byte b, out bool starts)
    {
        starts = Needed == 0;
        if (Needed > 0) return b >= Low && b <= High ? new Utf8Cursor((byte)(Needed - 1), 0x80, 0xBF) : null;
        return b switch
        {
            < 0x80 => this,
            >= 0xC2 and <= 0xDF => new Utf8Cursor(1, 0x80, 0xBF),
            0xE0 => new Utf8Cursor(2, 0xA0, 0xBF),
            0xED => new Utf8Cursor(2, 0x80, 0x9F),
            >= 0xE1 and <= 0xEF => new Utf8Cursor(2, 0x80, 0xBF),
            0xF0 => new Utf8Cursor(3, 0x90, 0xBF),
            >= 0xF1 and <= 0xF3 => new Utf8Cursor(3, 0x80, 0xBF),
            0xF4 => new Utf8Cursor(3, 0x80, 0x8F),
            _ => null,
        };
    }
}
