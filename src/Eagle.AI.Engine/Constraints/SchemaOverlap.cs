using System.Text.Json;

namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Proves that no JSON value matches two compiled shapes (conservatively: false means "not proven", not "they
/// overlap"). It lets a <c>oneOf</c> be enforced as an <c>anyOf</c>: when its branches are pairwise disjoint, a value
/// matches one exactly when it matches at least one. Proofs: the branches take different JSON types; their
/// <c>const</c>/<c>enum</c> values differ (by JSON value, so <c>1</c> and <c>1.0</c> are the same); a string value one
/// branch lists is one the other's grammar refuses; string lengths or array sizes cannot meet; or both are objects with
/// a discriminator (a property both require with disjoint schemas, or one that one requires and the other forbids).
/// </summary>
internal static class SchemaOverlap
{
    [Flags]
    private enum Kinds { None = 0, Object = 1, Array = 2, String = 4, Number = 8, Boolean = 16, Null = 32, All = 63 }

    private const int MaxDepth = 16;                                            // recursive schemas: give up, unproven

    /// <summary>Whether no value can match both <paramref name="a"/> and <paramref name="b"/> (as far as it can be proven).</summary>
    public static bool Disjoint(SchemaNode a, SchemaNode b) => Disjoint(a, b, 0);

    private static bool Disjoint(SchemaNode a, SchemaNode b, int depth)
    {
        if (depth > MaxDepth) return false;
        a = Resolve(a);
        b = Resolve(b);
        if ((KindsOf(a, 0) & KindsOf(b, 0)) == Kinds.None) return true;
        if (a is UnionNode ua) return ua.Alternatives.All(x => Disjoint(x, b, depth + 1));
        if (b is UnionNode ub) return ub.Alternatives.All(x => Disjoint(a, x, depth + 1));
        return (a, b) switch
        {
            (LiteralNode { Classes: false } x, LiteralNode { Classes: false } y) =>
                !x.Values.Any(v => y.Values.Any(w => SameValue(v, w))),
            (LiteralNode { Classes: false } x, _) => Refuses(b, x),
            (_, LiteralNode { Classes: false } y) => Refuses(a, y),
            (StringNode x, StringNode y) => x.Max < y.Min || y.Max < x.Min,
            (ArrayNode x, ArrayNode y) => x.Max < y.Min || y.Max < x.Min
                || (x.Min > 0 && y.Min > 0 && Disjoint(x.Items, y.Items, depth + 1)),
            (ObjectNode x, ObjectNode y) => Discriminated(x, y, depth) || Discriminated(y, x, depth),
            _ => false,
        };
    }

    private static SchemaNode Resolve(SchemaNode node)
    {
        for (int i = 0; node is RefNode r && i <= MaxDepth; i++) node = r.Target;
        return node;
    }

    private static Kinds KindsOf(SchemaNode node, int depth) => depth > MaxDepth ? Kinds.All : Resolve(node) switch
    {
        ObjectNode => Kinds.Object,
        ArrayNode => Kinds.Array,
        StringNode or PatternNode => Kinds.String,
        NumberNode => Kinds.Number,
        LiteralNode l => l.Values.Aggregate(Kinds.None, (k, v) => k | KindOf(v)),
        UnionNode u => u.Alternatives.Aggregate(Kinds.None, (k, x) => k | KindsOf(x, depth + 1)),
        _ => Kinds.All,
    };

    private static Kinds KindOf(byte[] text) => text[0] switch
    {
        (byte)'{' => Kinds.Object,
        (byte)'[' => Kinds.Array,
        (byte)'"' => Kinds.String,
        (byte)'t' or (byte)'f' => Kinds.Boolean,
        (byte)'n' => Kinds.Null,
        _ => Kinds.Number,
    };

    // Every listed value is refused by the other shape's grammar. Only strings, booleans and null are decided by text:
    // a number or a structure has other spellings (1.0 is the integer 1) that the grammar may refuse while the schema
    // accepts them.
    private static bool Refuses(SchemaNode other, LiteralNode literal) => literal.Values.All(v =>
        (KindOf(v) & KindsOf(other, 0)) == Kinds.None
        || (KindOf(v) is Kinds.String or Kinds.Boolean or Kinds.Null && !Accepts(other, v)));

    private static bool Accepts(SchemaNode node, byte[] text)
    {
        JsonFrame? f = JsonFrame.Start(node, Done.Instance, text[0]);
        for (int i = 1; i < text.Length && f is not null; i++) f = f.Step(text[i]);
        return f?.IsComplete == true;
    }

    // x requires a property that y forbids (or whose value y's other keys cannot take), or that y also requires with a
    // disjoint schema.
    private static bool Discriminated(ObjectNode x, ObjectNode y, int depth)
    {
        for (int i = 0; i < x.Names.Length; i++)
        {
            if ((x.Required & (1UL << i)) == 0) continue;
            int j = Array.FindIndex(y.Names, n => n.AsSpan().SequenceEqual(x.Names[i]));
            if (j < 0 && (y.Additional is null || Disjoint(x.Properties[i], y.Additional, depth + 1))) return true;
            if (j >= 0 && (y.Required & (1UL << j)) != 0 && Disjoint(x.Properties[i], y.Properties[j], depth + 1)) return true;
        }
        return false;
    }

    // JSON value equality of two compact texts: numbers by value, everything else by the parsed structure.
    private static bool SameValue(byte[] a, byte[] b)
    {
        if (a.AsSpan().SequenceEqual(b)) return true;
        using var x = JsonDocument.Parse(a);
        using var y = JsonDocument.Parse(b);
        return JsonElement.DeepEquals(x.RootElement, y.RootElement);
    }
}
