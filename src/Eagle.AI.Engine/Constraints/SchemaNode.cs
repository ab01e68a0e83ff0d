namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// A compiled JSON Schema (or plain JSON) shape: what one JSON value may be. <see cref="JsonSchemaCompiler"/> makes them;
/// <see cref="JsonFrame"/>s match bytes against them.
/// </summary>
internal abstract class SchemaNode;

/// <summary>Any JSON value (<c>{}</c>, <c>true</c>, or no schema at all).</summary>
internal sealed class AnyNode : SchemaNode
{
    public static readonly AnyNode Instance = new();
    private AnyNode() { }
}

/// <summary>
/// An object. Declared properties are matched by name (at most 64, so the seen ones fit one bit mask); other keys take
/// <see cref="Additional"/>, or are forbidden when it is null (<c>additionalProperties: false</c>).
/// </summary>
internal sealed class ObjectNode(byte[][] names, SchemaNode[] properties, ulong required, SchemaNode? additional) : SchemaNode
{
    /// <summary>Declared property names, UTF-8 (no escapes: keys are matched byte for byte).</summary>
    public byte[][] Names { get; } = names;
    /// <summary>The schema of each declared property.</summary>
    public SchemaNode[] Properties { get; } = properties;
    /// <summary>Bit i: property i is required.</summary>
    public ulong Required { get; } = required;
    /// <summary>The schema of undeclared keys; null = none allowed.</summary>
    public SchemaNode? Additional { get; } = additional;
}

/// <summary>An array of <see cref="Items"/>, with <see cref="Min"/> to <see cref="Max"/> elements.</summary>
internal sealed class ArrayNode(SchemaNode items, int min, int max) : SchemaNode
{
    public SchemaNode Items { get; } = items;
    public int Min { get; } = min;
    public int Max { get; } = max;
}

/// <summary>A string of <see cref="Min"/> to <see cref="Max"/> characters (code points; an escape is one).</summary>
internal sealed class StringNode(int min, int max) : SchemaNode
{
    public static readonly StringNode Any = new(0, int.MaxValue);
    public int Min { get; } = min;
    public int Max { get; } = max;
    /// <summary>Whether characters need counting (a bound is set).</summary>
    public bool Counted => Min > 0 || Max < int.MaxValue;
}

/// <summary>A string matching a <c>pattern</c> (<see cref="CharPattern"/>'s subset).</summary>
internal sealed class PatternNode(CharPattern pattern) : SchemaNode
{
    public CharPattern Pattern { get; } = pattern;
}

/// <summary>
/// A number; integers only when <see cref="Integer"/> (no fraction, no exponent), then between <see cref="Min"/> and
/// <see cref="Max"/> inclusive (<c>minimum</c>, <c>maximum</c> and their exclusive forms).
/// </summary>
internal sealed class NumberNode(bool integer, long min = long.MinValue, long max = long.MaxValue) : SchemaNode
{
    public static readonly NumberNode Number = new(false);
    public static readonly NumberNode Int = new(true);
    public bool Integer { get; } = integer;
    public long Min { get; } = min;
    public long Max { get; } = max;
    /// <summary>Whether a bound is set (the matcher then tracks the value).</summary>
    public bool Bounded => Min != long.MinValue || Max != long.MaxValue;
}

/// <summary>
/// One of a few exact JSON texts (<c>enum</c>, <c>const</c>, <c>true</c>/<c>false</c>/<c>null</c>), in compact UTF-8; or,
/// with <paramref name="classes"/>, templates whose bytes from 0x80 are character classes (<see cref="StringFormats"/>).
/// </summary>
internal sealed class LiteralNode(byte[][] values, bool classes = false) : SchemaNode
{
    public static readonly LiteralNode Boolean = new([[.. "true"u8], [.. "false"u8]]);
    public static readonly LiteralNode Null = new([[.. "null"u8]]);
    public byte[][] Values { get; } = values;
    public bool Classes { get; } = classes;

    /// <summary>Whether <paramref name="b"/> matches value byte <paramref name="v"/>.</summary>
    public bool Matches(byte v, byte b) => Classes ? StringFormats.Matches(v, b) : v == b;
}

/// <summary>Any of several shapes (<c>anyOf</c>, <c>oneOf</c>, a list of types).</summary>
internal sealed class UnionNode(SchemaNode[] alternatives) : SchemaNode
{
    public SchemaNode[] Alternatives { get; } = alternatives;
}

/// <summary>A <c>$ref</c>: its target is compiled after the node that refers to it, so recursive schemas close.</summary>
internal sealed class RefNode(string pointer) : SchemaNode
{
    public string Pointer { get; } = pointer;
    public SchemaNode Target { get; set; } = AnyNode.Instance;
}
