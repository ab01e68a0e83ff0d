namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Inside a JSON object: which declared properties have been written (so none repeats and '}' waits for the required
/// ones), which other keys have been written, and the schema of the value after the current key.
/// </summary>
internal sealed class ObjectFrame : JsonFrame
{
    /// <summary>An object with any keys and values.</summary>
    public static readonly ObjectNode AnyObject = new([], [], 0, AnyNode.Instance);

    private enum Phase : byte { Open, Key, Value, After, Comma }

    private readonly Phase phase;
    private readonly int spaces;
    private readonly SchemaNode? value;                                        // the current key's schema (Key, Value)

    public ObjectFrame(ObjectNode node, JsonFrame parent) : this(node, parent, Phase.Open, 0, 0, [], null) { }

    private ObjectFrame(ObjectNode node, JsonFrame parent, Phase phase, int spaces, ulong seen, byte[][] otherKeys, SchemaNode? value)
        : base(parent)
    {
        Node = node;
        this.phase = phase;
        this.spaces = spaces;
        Seen = seen;
        OtherKeys = otherKeys;
        this.value = value;
    }

    /// <summary>The object's schema.</summary>
    public ObjectNode Node { get; }

    /// <summary>Bit i: declared property i has been written.</summary>
    public ulong Seen { get; }

    /// <summary>Undeclared keys written so far (a key may not repeat).</summary>
    public byte[][] OtherKeys { get; }

    private ulong Declared => Node.Names.Length == 64 ? ulong.MaxValue : (1UL << Node.Names.Length) - 1;

    // Another key can still be written: an unwritten declared one, or any undeclared one.
    private bool KeyPossible => Node.Additional is not null || (Seen & Declared) != Declared;

    private bool RequiredDone => (Seen & Node.Required) == Node.Required;

    public override JsonFrame? Step(byte b)
    {
        if (IsSpace(b)) return spaces < MaxWhitespace ? With(phase, spaces + 1) : null;
        return phase switch
        {
            Phase.Open or Phase.After when b == '}' => RequiredDone ? Parent : null,
            Phase.Open or Phase.Comma when b == '"' => KeyPossible ? new KeyFrame(this) : null,
            Phase.After when b == ',' => KeyPossible ? With(Phase.Comma, 0) : null,
            Phase.Key when b == ':' => With(Phase.Value, 0),
            Phase.Value => Start(value!, new ObjectFrame(Node, Parent!, Phase.After, 0, Seen, OtherKeys, null), b),
            _ => null,
        };
    }

    /// <summary>The frame after a complete key: declared property <paramref name="index"/>, or an undeclared <paramref name="key"/> (index −1).</summary>
    public ObjectFrame AfterKey(int index, byte[] key) => index >= 0
        ? new ObjectFrame(Node, Parent!, Phase.Key, 0, Seen | (1UL << index), OtherKeys, Node.Properties[index])
        : new ObjectFrame(Node, Parent!, Phase.Key, 0, Seen, [.. OtherKeys, key], Node.Additional);

    private ObjectFrame With(Phase p, int s) => new(Node, Parent!, p, s, Seen, OtherKeys, value);
}

/// <summary>
/// Inside an object key: the bytes so far and the unwritten declared names they are still a prefix of. Keys are plain
/// UTF-8 without escapes, so a key is matched against the declared names byte for byte.
/// </summary>
internal sealed class KeyFrame : JsonFrame
{
    private readonly ObjectFrame owner;
    private readonly byte[] text;
    private readonly ulong candidates;
    private readonly Utf8Cursor utf8;

    public KeyFrame(ObjectFrame owner) : this(owner, [], ~owner.Seen & Mask(owner.Node), default) { }

    private KeyFrame(ObjectFrame owner, byte[] text, ulong candidates, Utf8Cursor utf8) : base(owner)
    {
        this.owner = owner;
        this.text = text;
        this.candidates = candidates;
        this.utf8 = utf8;
    }

    // An undeclared key may be any plain text; a declared one must follow the names.
    public override int PlainRoom => owner.Node.Additional is not null && utf8.AtBoundary ? int.MaxValue : -1;

    private static ulong Mask(ObjectNode node) => node.Names.Length == 64 ? ulong.MaxValue : (1UL << node.Names.Length) - 1;

    public override JsonFrame? Step(byte b)
    {
        var names = owner.Node.Names;
        if (b == '"' && utf8.AtBoundary)
        {
            for (int i = 0; i < names.Length; i++)
                if ((candidates >> i & 1) != 0 && names[i].Length == text.Length) return owner.AfterKey(i, text);
            // An undeclared key: allowed when the schema allows others and it repeats neither a declared nor an earlier key.
            if (owner.Node.Additional is null || names.Any(n => n.AsSpan().SequenceEqual(text))
                || owner.OtherKeys.Any(k => k.AsSpan().SequenceEqual(text))) return null;
            return owner.AfterKey(-1, text);
        }
        if (b < 0x20 || b == '\\' || b == '"') return null;
        if (utf8.Next(b, out _) is not { } next) return null;
        ulong still = 0;
        for (int i = 0; i < names.Length; i++)
            if ((candidates >> i & 1) != 0 && names[i].Length > text.Length && names[i][text.Length] == b) still |= 1UL << i;
        if (still == 0 && owner.Node.Additional is null) return null;
        return new KeyFrame(owner, [.. text, b], still, next);
    }
}
