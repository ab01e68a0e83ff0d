namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Inside a JSON string constrained by a <see cref="CharPattern"/>: every character is printable ASCII the pattern
/// takes at that point (no escapes), and the closing quote comes only where the pattern is complete.
/// </summary>
internal sealed class PatternFrame : JsonFrame
{
    private readonly CharPattern pattern;
    private readonly (int Atom, int Count)[] states;

    private PatternFrame(CharPattern pattern, JsonFrame parent, (int Atom, int Count)[] states) : base(parent)
    {
        this.pattern = pattern;
        this.states = states;
    }

    /// <summary>The frame after the opening quote.</summary>
    public static PatternFrame Start(CharPattern pattern, JsonFrame parent) => new(pattern, parent, pattern.Start());

    public override JsonFrame? Step(byte b)
    {
        if (b == '"') return pattern.Accepts(states) ? Parent : null;
        return pattern.Step(states, b) is { } next ? new PatternFrame(pattern, Parent!, next) : null;
    }
}
