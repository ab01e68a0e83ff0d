namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// One level of a JSON matcher's stack: what the innermost open value expects next. Frames are immutable and link to the
/// frame that resumes when their value ends, so a matcher state is just its top frame: copying it is free, a draft tree
/// holds one per node, and a token-trie walk keeps one per depth. <see cref="Step"/> consumes one byte and returns the
/// next top frame, or null when the byte cannot continue any valid document.
/// </summary>
internal abstract class JsonFrame(JsonFrame? parent)
{
    /// <summary>Most whitespace bytes in a row between tokens: enough for pretty-printing, never an endless run.</summary>
    public const int MaxWhitespace = 16;

    /// <summary>The frame that continues once this frame's value is complete (null for <see cref="Done"/>).</summary>
    public JsonFrame? Parent { get; } = parent;

    /// <summary>The top frame after <paramref name="b"/>, or null when no valid document continues with it.</summary>
    public abstract JsonFrame? Step(byte b);

    /// <summary>Whether this frame's value may end here without a closing byte (a number, a literal).</summary>
    public virtual bool CanEnd => false;

    /// <summary>Whether the whole document may end here.</summary>
    public virtual bool IsComplete => CanEnd && Parent!.IsComplete;

    /// <summary>
    /// When this state is inside a string or key at a character boundary, where plain text (no quote, backslash or
    /// control byte; valid UTF-8) only adds characters: how many more it takes. −1 otherwise. Lets a mask decide most
    /// tokens from precomputed counts.
    /// </summary>
    public virtual int PlainRoom => -1;

    /// <summary>Whether <paramref name="b"/> is JSON whitespace.</summary>
    public static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';

    /// <summary>The frame for a value of <paramref name="node"/> that starts with <paramref name="b"/>, resuming <paramref name="parent"/> when it ends.</summary>
    public static JsonFrame? Start(SchemaNode node, JsonFrame parent, byte b) => node switch
    {
        RefNode r => Start(r.Target, parent, b),
        UnionNode u => Fork.Of(u.Alternatives.Select(a => Start(a, parent, b))),
        AnyNode => b switch
        {
            (byte)'{' => new ObjectFrame(ObjectFrame.AnyObject, parent),
            (byte)'[' => new ArrayFrame(ArrayFrame.AnyArray, parent),
            (byte)'"' => new StringFrame(StringNode.Any, parent),
            (byte)'-' or (>= (byte)'0' and <= (byte)'9') => NumberFrame.Start(NumberNode.Number, parent, b),
            _ => LiteralFrame.Start(LiteralFrame.Keywords, parent, b),
        },
        ObjectNode o => b == '{' ? new ObjectFrame(o, parent) : null,
        ArrayNode a => b == '[' ? new ArrayFrame(a, parent) : null,
        StringNode s => b == '"' ? new StringFrame(s, parent) : null,
        PatternNode p => b == '"' ? PatternFrame.Start(p.Pattern, parent) : null,
        NumberNode n => NumberFrame.Start(n, parent, b),
        LiteralNode l => LiteralFrame.Start(l, parent, b),
        _ => throw new InvalidOperationException($"unknown schema node {node.GetType().Name}"),
    };

    /// <summary>A value ended without a closing byte: <paramref name="b"/> belongs to the enclosing frame.</summary>
    protected JsonFrame? EndWith(byte b) => CanEnd ? Parent!.Step(b) : null;
}

/// <summary>The document is complete: nothing more may follow.</summary>
internal sealed class Done : JsonFrame
{
    public static readonly Done Instance = new();
    private Done() : base(null) { }
    public override JsonFrame? Step(byte b) => null;
    public override bool IsComplete => true;
}

/// <summary>Before the document: the first byte starts the value, no whitespace before it.</summary>
internal sealed class RootFrame(SchemaNode node) : JsonFrame(null)
{
    public override JsonFrame? Step(byte b) => Start(node, Done.Instance, b);
    public override bool IsComplete => false;
}

/// <summary>Several stacks still alive (a union whose alternatives agree so far); a byte advances each.</summary>
internal sealed class Fork : JsonFrame
{
    private readonly JsonFrame[] alternatives;
    private Fork(JsonFrame[] alternatives) : base(null) => this.alternatives = alternatives;

    /// <summary>The live alternatives as one frame: null when none, the frame itself when one.</summary>
    public static JsonFrame? Of(IEnumerable<JsonFrame?> frames)
    {
        List<JsonFrame>? live = null;
        JsonFrame? single = null;
        foreach (var f in frames)
        {
            if (f is null) continue;
            if (single is null && live is null) { single = f; continue; }
            live ??= [single!];
            live.Add(f);
        }
        if (live is null) return single;
        var flat = live.SelectMany(f => f is Fork k ? k.alternatives : [f]).ToArray();
        return flat.Length == 1 ? flat[0] : new Fork(flat);
    }

    public override JsonFrame? Step(byte b) => Of(alternatives.Select(a => a.Step(b)));
    public override bool IsComplete => alternatives.Any(a => a.IsComplete);

    // Plain text is allowed when some alternative takes it: all must be inside text for the counts to decide.
    public override int PlainRoom => alternatives.Min(a => a.PlainRoom) < 0 ? -1 : alternatives.Max(a => a.PlainRoom);
}
