using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Compiles a JSON Schema into <see cref="SchemaNode"/>s. Supported: <c>type</c> (one or a list), <c>properties</c>,
/// <c>required</c>, <c>additionalProperties</c>, <c>enum</c>, <c>const</c>, <c>items</c>, <c>minItems</c>/<c>maxItems</c>,
/// <c>anyOf</c>, <c>oneOf</c> (when its branches are provably disjoint, see <see cref="SchemaOverlap"/>), <c>$ref</c> to any JSON pointer in the document (<c>#/$defs/…</c>, <c>#/definitions/…</c>,
/// or the exporter's <c>#/properties/…</c>), string <c>minLength</c>/<c>maxLength</c>, <c>format</c> <c>date-time</c>,
/// <c>date</c> and <c>uuid</c>, <c>pattern</c> (anchored, see <see cref="CharPattern"/>), <c>minimum</c>/<c>maximum</c>/<c>exclusiveMinimum</c>/<c>exclusiveMaximum</c> on integers, <c>allOf</c>
/// where its parts merge exactly (<see cref="AllOfMerge"/>); annotations (<c>description</c>, <c>title</c>, …) and
/// keywords outside the JSON Schema specification (which constrain nothing) are ignored. Any other specification keyword
/// throws <see cref="UnsupportedSchemaException"/> naming it: a schema is never silently left unconstrained.
/// </summary>
internal sealed class JsonSchemaCompiler
{
    // The JSON Schema keywords (drafts 4 to 2020-12) that constrain a value and are not enforced here: they are refused.
    // Keywords outside the specification (e.g. Semantic Kernel's "condition", OpenAPI's "nullable", "x-…") constrain
    // nothing under it, so like annotations ("title", "description", …) they are ignored, which is exact.
    private static readonly HashSet<string> Refused = new(StringComparer.Ordinal)
    {
        "not", "if", "then", "else", "dependentSchemas", "dependentRequired", "dependencies", "prefixItems", "contains",
        "minContains", "maxContains", "uniqueItems", "additionalItems", "unevaluatedItems", "unevaluatedProperties",
        "patternProperties", "propertyNames", "minProperties", "maxProperties", "multipleOf", "$dynamicRef",
        "$recursiveRef",
    };

    // enum/const values are matched in this exact form: compact, non-ASCII characters as themselves.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonElement root;
    private readonly Dictionary<string, RefNode> refs = new(StringComparer.Ordinal);
    private readonly List<(UnionNode Union, string At)> oneOfs = [];              // checked once every $ref is compiled

    private JsonSchemaCompiler(JsonElement root) => this.root = root;

    /// <summary>Compiles <paramref name="schema"/> (an object or a boolean schema).</summary>
    /// <exception cref="UnsupportedSchemaException">The schema uses a keyword (or a form of one) constrained decoding cannot enforce.</exception>
    public static SchemaNode Compile(JsonElement schema)
    {
        var compiler = new JsonSchemaCompiler(schema);
        var node = compiler.Node(schema, "#");
        // Targets compile after their referrers; compiling one may find new references.
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (compiler.refs.Keys.FirstOrDefault(k => !done.Contains(k)) is { } pointer)
        {
            done.Add(pointer);
            compiler.refs[pointer].Target = compiler.Node(compiler.Resolve(pointer), pointer);
        }
        foreach (var (union, at) in compiler.oneOfs) ExactlyOne(union, at);
        return node;
    }

    private SchemaNode Node(JsonElement s, string at)
    {
        if (s.ValueKind == JsonValueKind.True) return AnyNode.Instance;
        if (s.ValueKind != JsonValueKind.Object)
            throw new UnsupportedSchemaException($"JSON Schema at '{at}': only object schemas and 'true' can constrain decoding, not {s.ValueKind}.");
        foreach (var p in s.EnumerateObject())
            if (Refused.Contains(p.Name))
                throw new UnsupportedSchemaException($"JSON Schema keyword '{p.Name}' (at '{at}') is not supported by constrained decoding.");

        // allOf, and a $ref beside other constraints (an implicit allOf), merge into one schema where that is exact.
        if (s.TryGetProperty("allOf", out _)
            || (s.TryGetProperty("$ref", out _) && s.EnumerateObject().Any(p => p.Name is not "$ref" && Constrains(p.Name))))
            return Node(AllOfMerge.Merge(s, Resolve, at), at);
        if (s.TryGetProperty("$ref", out var r))
        {
            string pointer = r.GetString() ?? "#";
            if (!refs.TryGetValue(pointer, out var node)) refs[pointer] = node = new RefNode(pointer);
            return node;
        }
        if (Get(s, "const") is { } c) return Literals(s, [c], at);
        if (Get(s, "enum") is { } e)
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0)
                throw new UnsupportedSchemaException($"JSON Schema at '{at}': 'enum' must be a non-empty array.");
            return Literals(s, [.. e.EnumerateArray()], at);
        }
        var union = Get(s, "anyOf") ?? Get(s, "oneOf");
        if (union is { } u)
        {
            if (s.EnumerateObject().Any(p => p.Name is not ("anyOf" or "oneOf") && Constrains(p.Name)))
                throw new UnsupportedSchemaException($"JSON Schema at '{at}': 'anyOf'/'oneOf' beside other constraints is not supported.");
            string key = s.TryGetProperty("anyOf", out _) ? "anyOf" : "oneOf";
            var compiled = Union([.. u.EnumerateArray().Select((a, i) => Node(a, $"{at}/{key}/{i}"))]);
            if (key == "oneOf" && compiled is UnionNode branches) oneOfs.Add((branches, at));
            return compiled;
        }
        var types = Types(s, at);
        if (types is null) return InferType(s, at);
        return Union([.. types.Select(t => OfType(s, t, at))]);
    }

    // 'oneOf' is enforced as 'anyOf' only where that is exact: no value can match two branches. Otherwise it is refused,
    // never relaxed (the grammar cannot rule out a value two branches accept).
    private static void ExactlyOne(UnionNode union, string at)
    {
        var b = union.Alternatives;
        for (int i = 0; i < b.Length; i++)
            for (int j = i + 1; j < b.Length; j++)
                if (!SchemaOverlap.Disjoint(b[i], b[j]))
                    throw new UnsupportedSchemaException(
                        $"JSON Schema keyword 'oneOf' (at '{at}'): branches {i} and {j} may both match one value, and constrained decoding " +
                        "enforces 'oneOf' only when its branches are provably disjoint (different types, different 'const'/'enum' " +
                        "values, or an object property that tells them apart); use 'anyOf' if a value may match several.");
    }

    private static bool Constrains(string keyword) => Supported(keyword) || Refused.Contains(keyword);

    private static bool Supported(string keyword) => keyword is "type" or "properties" or "required" or "additionalProperties"
        or "enum" or "const" or "items" or "minItems" or "maxItems" or "anyOf" or "oneOf" or "$ref" or "minLength" or "maxLength"
        or "format" or "pattern" or "allOf" or "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum";

    private static readonly string[] Bounds = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];

    private static JsonElement? Get(JsonElement s, string name) => s.TryGetProperty(name, out var v) ? v : null;

    private static string[]? Types(JsonElement s, string at) => Get(s, "type") switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } t => [t.GetString()!],
        { ValueKind: JsonValueKind.Array } t => [.. t.EnumerateArray().Select(x => x.GetString() ?? "")],
        _ => throw new UnsupportedSchemaException($"JSON Schema at '{at}': 'type' must be a string or an array of strings."),
    };

    // No 'type': the keywords present say which shape is meant; with none, any value.
    private SchemaNode InferType(JsonElement s, string at)
    {
        if (Bounds.FirstOrDefault(b => Get(s, b) is not null) is { } bound)
            throw new UnsupportedSchemaException($"JSON Schema keyword '{bound}' (at '{at}') is supported with \"type\": \"integer\" only.");
        if (Get(s, "pattern") is not null && Get(s, "format") is null && Get(s, "minLength") is null && Get(s, "maxLength") is null)
            return OfType(s, "string", at);
        if (Get(s, "format") is not null) return OfType(s, "string", at);
        if (Get(s, "properties") is not null || Get(s, "required") is not null || Get(s, "additionalProperties") is not null)
            return OfType(s, "object", at);
        if (Get(s, "items") is not null || Get(s, "minItems") is not null || Get(s, "maxItems") is not null)
            return OfType(s, "array", at);
        if (Get(s, "minLength") is not null || Get(s, "maxLength") is not null) return OfType(s, "string", at);
        return AnyNode.Instance;
    }

    private SchemaNode OfType(JsonElement s, string type, string at) => type switch
    {
        "object" => Object(s, at),
        "array" => new ArrayNode(Get(s, "items") is { } items ? Node(items, at + "/items") : AnyNode.Instance,
            Count(s, "minItems", 0, at), Count(s, "maxItems", int.MaxValue, at)),
        "string" => Get(s, "pattern") is { } pattern ? Pattern(s, pattern, at)
            : Get(s, "format") is { } f ? Format(s, f.GetString() ?? "", at)
            : new StringNode(Count(s, "minLength", 0, at), Count(s, "maxLength", int.MaxValue, at)),
        "number" => Bounds.FirstOrDefault(b => Get(s, b) is not null) is { } bound
            ? throw new UnsupportedSchemaException($"JSON Schema keyword '{bound}' (at '{at}') is supported on \"type\": \"integer\" only, not on 'number'.")
            : NumberNode.Number,
        "integer" => Integer(s, at),
        "boolean" => LiteralNode.Boolean,
        "null" => LiteralNode.Null,
        _ => throw new UnsupportedSchemaException($"JSON Schema at '{at}': type '{type}' is not supported."),
    };

    // A string of a pattern (its subset); a length bound or a format beside it would need intersecting, so it is refused.
    private static PatternNode Pattern(JsonElement s, JsonElement pattern, string at)
    {
        if (Get(s, "minLength") is not null || Get(s, "maxLength") is not null || Get(s, "format") is not null)
            throw new UnsupportedSchemaException($"JSON Schema at '{at}': 'pattern' with 'minLength'/'maxLength'/'format' is not supported.");
        return new PatternNode(CharPattern.Parse(pattern.GetString() ?? "", at));
    }

    // A fixed-shape string; a length bound beside it would need checking against every shape, so it is refused.
    private static LiteralNode Format(JsonElement s, string format, string at)
    {
        if (Get(s, "minLength") is not null || Get(s, "maxLength") is not null)
            throw new UnsupportedSchemaException($"JSON Schema at '{at}': 'format' with 'minLength'/'maxLength' is not supported.");
        return StringFormats.Get(format)
            ?? throw new UnsupportedSchemaException($"JSON Schema keyword 'format' (at '{at}') with value '{format}' is not supported by constrained decoding (supported: date-time, date, uuid).");
    }

    private SchemaNode Object(JsonElement s, string at)
    {
        var names = new List<byte[]>();
        var properties = new List<SchemaNode>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        if (Get(s, "properties") is { } props)
            foreach (var p in props.EnumerateObject())
            {
                if (p.Name.Any(ch => ch is '"' or '\\' || ch < ' '))
                    throw new UnsupportedSchemaException($"JSON Schema at '{at}': property name '{p.Name}' needs escaping, which is not supported.");
                index[p.Name] = names.Count;
                names.Add(Encoding.UTF8.GetBytes(p.Name));
                properties.Add(Node(p.Value, $"{at}/properties/{p.Name}"));
            }
        if (names.Count > 64) throw new UnsupportedSchemaException($"JSON Schema at '{at}': more than 64 properties are not supported.");
        ulong required = 0;
        if (Get(s, "required") is { } req)
            foreach (var name in req.EnumerateArray().Select(x => x.GetString() ?? ""))
                required |= index.TryGetValue(name, out int i) ? 1UL << i
                    : throw new UnsupportedSchemaException($"JSON Schema at '{at}': required property '{name}' is not among 'properties'.");
        SchemaNode? additional = Get(s, "additionalProperties") switch
        {
            null => AnyNode.Instance,
            { ValueKind: JsonValueKind.False } => null,
            { } a => Node(a, at + "/additionalProperties"),
        };
        return new ObjectNode([.. names], [.. properties], required, additional);
    }

    private static int Count(JsonElement s, string name, int absent, string at) => Get(s, name) switch
    {
        null => absent,
        { } v when v.TryGetInt32(out int n) && n >= 0 => n,
        _ => throw new UnsupportedSchemaException($"JSON Schema at '{at}': '{name}' must be a non-negative 32-bit integer."),
    };

    // minimum/maximum (and exclusive) of an integer, as inclusive integer bounds within the 15 digits a number may have.
    private static NumberNode Integer(JsonElement s, string at)
    {
        var (min, max) = IntegerBounds(s, at);
        if (min is null && max is null) return NumberNode.Int;
        const long Largest = 999_999_999_999_999;
        long lo = (long)Math.Max(min ?? -Largest, -Largest), hi = (long)Math.Min(max ?? Largest, Largest);
        if (lo > hi)
            throw new UnsupportedSchemaException($"JSON Schema at '{at}': no integer of at most 15 digits satisfies 'minimum'/'maximum' ({min} to {max}).");
        return new NumberNode(true, lo, hi);
    }

    // The inclusive integer bounds the numeric keywords set (null = none): a fractional bound rounds inwards.
    private static (decimal? Min, decimal? Max) IntegerBounds(JsonElement s, string at)
    {
        decimal? Bound(string name)
        {
            if (Get(s, name) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out decimal d)) return d;
            throw new UnsupportedSchemaException($"JSON Schema at '{at}': '{name}' must be a number (the draft-4 boolean form is not supported).");
        }
        decimal? min = null, max = null;
        if (Bound("minimum") is { } a) min = Math.Ceiling(a);
        if (Bound("exclusiveMinimum") is { } b) min = Math.Max(min ?? decimal.MinValue, Math.Floor(b) + 1);
        if (Bound("maximum") is { } c) max = Math.Floor(c);
        if (Bound("exclusiveMaximum") is { } d) max = Math.Min(max ?? decimal.MaxValue, Math.Ceiling(d) - 1);
        return (min, max);
    }

    // enum/const: the values' compact texts; a 'type' beside them keeps only the values of that type, and numeric bounds
    // only the numbers within them.
    private SchemaNode Literals(JsonElement s, JsonElement[] values, string at)
    {
        var types = Types(s, at);
        var (min, max) = Bounds.Any(b => Get(s, b) is not null) ? NumberBounds(s, at) : (null, null);
        var kept = values.Where(v => types is null || types.Any(t => OfKind(v, t)))
            .Where(v => v.ValueKind != JsonValueKind.Number || Within(v, min, max, s))
            .Where(v => v.ValueKind != JsonValueKind.String || Get(s, "pattern") is not { } p || CharPattern.Parse(p.GetString() ?? "", at).Matches(v.GetString()!))
            .ToArray();
        if (kept.Length == 0) throw new UnsupportedSchemaException($"JSON Schema at '{at}': no 'enum'/'const' value has the schema's type.");
        return new LiteralNode([.. kept.Select(v => JsonSerializer.SerializeToUtf8Bytes(v, Compact)).Distinct(ByteArrays.Comparer)]);
    }

    // Bounds for enum/const numbers: any number kind, exclusive ones kept apart (see Within).
    private static (decimal? Min, decimal? Max) NumberBounds(JsonElement s, string at)
    {
        decimal? Bound(string name) => Get(s, name) is not { } v ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out decimal d) ? d
            : throw new UnsupportedSchemaException($"JSON Schema at '{at}': '{name}' must be a number (the draft-4 boolean form is not supported).");
        return (Bound("minimum"), Bound("maximum"));
    }

    private static bool Within(JsonElement v, decimal? min, decimal? max, JsonElement s)
    {
        if (!v.TryGetDecimal(out decimal d)) return false;
        if (min is { } lo && d < lo) return false;
        if (max is { } hi && d > hi) return false;
        if (Get(s, "exclusiveMinimum") is { } e && e.TryGetDecimal(out decimal el) && d <= el) return false;
        if (Get(s, "exclusiveMaximum") is { } x && x.TryGetDecimal(out decimal xl) && d >= xl) return false;
        return true;
    }

    private static bool OfKind(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d == decimal.Truncate(d),
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        _ => false,
    };

    private static SchemaNode Union(SchemaNode[] alternatives) => alternatives.Length == 1 ? alternatives[0] : new UnionNode(alternatives);

    // A JSON pointer into the schema document ("#", "#/$defs/Name", "#/properties/a/items").
    private JsonElement Resolve(string pointer)
    {
        if (!pointer.StartsWith('#'))
            throw new UnsupportedSchemaException($"JSON Schema '$ref' '{pointer}': only references within the document ('#…') are supported.");
        var e = root;
        foreach (var raw in pointer[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string part = Uri.UnescapeDataString(raw).Replace("~1", "/").Replace("~0", "~");
            bool found = e.ValueKind switch
            {
                JsonValueKind.Object => e.TryGetProperty(part, out e),
                JsonValueKind.Array when int.TryParse(part, out int i) && i >= 0 && i < e.GetArrayLength() => (e = e[i]).ValueKind != JsonValueKind.Undefined,
                _ => false,
            };
            if (!found) throw new UnsupportedSchemaException($"JSON Schema '$ref' '{pointer}' does not resolve within the document.");
        }
        return e;
    }
}

/// <summary>Content equality for byte arrays.</summary>
internal sealed class ByteArrays : IEqualityComparer<byte[]>
{
    public static readonly ByteArrays Comparer = new();
    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
