namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// A JSON Schema <c>pattern</c> in the subset constrained decoding enforces: anchored (<c>^…$</c>), a sequence of atoms
/// — a printable ASCII character, an escaped punctuation character, <c>\d</c>, <c>\w</c>, or a class <c>[…]</c> of those
/// and ranges — each with an optional quantifier (<c>?</c>, <c>*</c>, <c>+</c>, <c>{n}</c>, <c>{n,}</c>, <c>{n,m}</c>).
/// Groups, alternation, <c>.</c>, negated classes and other escapes are refused, as is any class that takes a quote or
/// a backslash (those need JSON escapes): every matching string is then plain printable ASCII, spelled without escapes.
/// </summary>
internal sealed class CharPattern
{
    /// <summary>An unbounded repeat.</summary>
    public const int Unbounded = int.MaxValue;

    private const int MaxRepeat = 1000;

    private CharPattern(Atom[] atoms, string source)
    {
        Atoms = atoms;
        Source = source;
    }

    /// <summary>The atoms in order.</summary>
    public Atom[] Atoms { get; }

    /// <summary>The pattern as written.</summary>
    public string Source { get; }

    /// <summary>One atom: the characters it takes (index = ASCII code) and how many times.</summary>
    public sealed record Atom(bool[] Set, int Min, int Max);

    /// <summary>Parses <paramref name="pattern"/>, or throws naming what is outside the subset.</summary>
    /// <exception cref="UnsupportedSchemaException">The pattern is outside the supported subset.</exception>
    public static CharPattern Parse(string pattern, string at)
    {
        UnsupportedSchemaException Refuse(string why) => new(
            $"JSON Schema keyword 'pattern' (at '{at}') with value '{pattern}' is not supported by constrained decoding: {why} " +
            "(supported: ^…$ anchored sequences of characters, \\d, \\w and [classes] with ?, *, +, {n,m}).");
        if (pattern.Length < 2 || pattern[0] != '^' || pattern[^1] != '$' || (pattern.Length > 2 && pattern[^2] == '\\'))
            throw Refuse("it must be anchored with ^ and $");
        string body = pattern[1..^1];
        var atoms = new List<Atom>();
        int i = 0;
        while (i < body.Length)
        {
            var set = new bool[128];
            char c = body[i++];
            if (c == '[')
            {
                if (i < body.Length && body[i] == '^') throw Refuse("negated classes are not supported");
                bool closed = false;
                while (i < body.Length)
                {
                    char d = body[i++];
                    if (d == ']') { closed = true; break; }
                    int lo = d == '\\' ? Escape(body, ref i, set, Refuse) : d;
                    if (lo < 0) continue;                                             // a shorthand (\d, \w), already added
                    if (i + 1 < body.Length && body[i] == '-' && body[i + 1] != ']')
                    {
                        i++;
                        char e = body[i++];
                        int hi = e == '\\' ? Escape(body, ref i, null, Refuse) : e;
                        if (hi < lo) throw Refuse($"the range {(char)lo}-{(char)hi} is reversed");
                        for (int x = lo; x <= hi; x++) Add(set, x, Refuse);
                    }
                    else Add(set, lo, Refuse);
                }
                if (!closed) throw Refuse("a class is not closed");
            }
            else if (c == '\\')
            {
                int single = Escape(body, ref i, set, Refuse);
                if (single >= 0) Add(set, single, Refuse);
            }
            else if (c is '(' or ')' or '|' or '.' or '*' or '+' or '?' or '{' or '}' or '^' or '$' or ']')
                throw Refuse($"'{c}' (groups, alternation, '.', anchors inside) is not supported");
            else Add(set, c, Refuse);

            int min = 1, max = 1;
            if (i < body.Length)
                switch (body[i])
                {
                    case '?': (min, max) = (0, 1); i++; break;
                    case '*': (min, max) = (0, Unbounded); i++; break;
                    case '+': (min, max) = (1, Unbounded); i++; break;
                    case '{':
                        int close = body.IndexOf('}', i);
                        if (close < 0) throw Refuse("a '{' repeat is not closed");
                        var parts = body[(i + 1)..close].Split(',');
                        if (parts.Length > 2 || !int.TryParse(parts[0], out min) || min < 0 || min > MaxRepeat)
                            throw Refuse($"the repeat {{{body[(i + 1)..close]}}} is not {{n}}, {{n,}} or {{n,m}} with n ≤ {MaxRepeat}");
                        max = parts.Length == 1 ? min
                            : parts[1].Length == 0 ? Unbounded
                            : int.TryParse(parts[1], out int m) && m >= min && m <= MaxRepeat ? m
                            : throw Refuse($"the repeat {{{body[(i + 1)..close]}}} has no valid upper bound ≤ {MaxRepeat}");
                        i = close + 1;
                        break;
                }
            if (i < body.Length && body[i] is '?' or '*' or '+' or '{')
                throw Refuse("lazy or stacked quantifiers are not supported");
            atoms.Add(new Atom(set, min, max));
        }
        return new CharPattern([.. atoms], pattern);
    }

    // An escape after '\': \d and \w add their characters to the set (returns −1), an escaped punctuation character is
    // itself.
    private static int Escape(string body, ref int i, bool[]? set, Func<string, UnsupportedSchemaException> refuse)
    {
        if (i >= body.Length) throw refuse("a '\\' ends the pattern");
        char e = body[i++];
        if (e is 'd' or 'w' && set is not null)
        {
            for (int x = '0'; x <= '9'; x++) set[x] = true;
            if (e == 'w')
            {
                for (int x = 'a'; x <= 'z'; x++) set[x] = true;
                for (int x = 'A'; x <= 'Z'; x++) set[x] = true;
                set['_'] = true;
            }
            return -1;
        }
        if (e is >= '!' and <= '~' && !char.IsLetterOrDigit(e)) return e;
        throw refuse($"the escape \\{e} is not supported");
    }

    private static void Add(bool[] set, int c, Func<string, UnsupportedSchemaException> refuse)
    {
        if (c is < 0x20 or > 0x7E) throw refuse("only printable ASCII characters are supported");
        if (c is '"' or '\\') throw refuse("a quote or a backslash would need a JSON escape");
        set[c] = true;
    }

    /// <summary>Whether <paramref name="text"/> matches the whole pattern.</summary>
    public bool Matches(string text)
    {
        var states = Start();
        foreach (char c in text)
        {
            if (c > 0x7F || Step(states, (byte)c) is not { } next) return false;
            states = next;
        }
        return Accepts(states);
    }

    /// <summary>The states before any character: (atom, repeats so far) pairs, closed under skipping satisfied atoms.</summary>
    public (int Atom, int Count)[] Start() => Closure([(0, 0)]);

    /// <summary>The states after character <paramref name="b"/>, or null when none.</summary>
    public (int Atom, int Count)[]? Step((int Atom, int Count)[] states, byte b)
    {
        if (b >= 128) return null;
        var next = new List<(int, int)>();
        foreach (var (i, c) in states)
        {
            if (i == Atoms.Length) continue;
            var a = Atoms[i];
            if (!a.Set[b] || c >= a.Max) continue;
            // Past its minimum an unbounded atom's count no longer matters: keep it at the minimum (finitely many states).
            next.Add((i, a.Max == Unbounded ? Math.Min(c + 1, a.Min) : c + 1));
        }
        return next.Count == 0 ? null : Closure(next);
    }

    /// <summary>Whether the states include the end of the pattern.</summary>
    public bool Accepts((int Atom, int Count)[] states) => states.Any(s => s.Atom == Atoms.Length);

    private (int Atom, int Count)[] Closure(IEnumerable<(int Atom, int Count)> states)
    {
        var all = new HashSet<(int, int)>(states);
        var work = new Stack<(int, int)>(all);
        while (work.Count > 0)
        {
            var (i, c) = work.Pop();
            if (i < Atoms.Length && c >= Atoms[i].Min && all.Add((i + 1, 0))) work.Push((i + 1, 0));
        }
        return [.. all.Order()];
    }
}
