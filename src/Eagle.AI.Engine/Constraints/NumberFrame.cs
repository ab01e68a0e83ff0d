namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Inside a JSON number. Digit runs are bounded (integer and fraction part 15 digits each, exponent 2) so a number
/// cannot grow forever and always fits a double; integers have no fraction or exponent.
/// </summary>
internal sealed class NumberFrame : JsonFrame
{
    private const int MaxDigits = 15, MaxExponentDigits = 2;
    private enum Phase : byte { Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits }

    private readonly bool integer;
    private readonly Phase phase;
    private readonly int digits;

    private NumberFrame(bool integer, JsonFrame parent, Phase phase, int digits) : base(parent)
    {
        this.integer = integer;
        this.phase = phase;
        this.digits = digits;
    }

    /// <summary>A number starting with <paramref name="b"/>, or null when a number cannot start so.</summary>
    public static JsonFrame? Start(NumberNode node, JsonFrame parent, byte b) => b switch
    {
        (byte)'-' => new NumberFrame(node.Integer, parent, Phase.Minus, 0),
        (byte)'0' => new NumberFrame(node.Integer, parent, Phase.Zero, 1),
        >= (byte)'1' and <= (byte)'9' => new NumberFrame(node.Integer, parent, Phase.Int, 1),
        _ => null,
    };

    public override bool CanEnd => phase is Phase.Zero or Phase.Int or Phase.Frac or Phase.ExpDigits;

    public override JsonFrame? Step(byte b)
    {
        bool digit = b is >= (byte)'0' and <= (byte)'9';
        return phase switch
        {
            Phase.Minus => b == '0' ? To(Phase.Zero, 1) : digit ? To(Phase.Int, 1) : null,
            Phase.Zero => Fraction(b) ?? EndWith(b),
            Phase.Int => digit ? (digits < MaxDigits ? To(Phase.Int, digits + 1) : null) : Fraction(b) ?? EndWith(b),
            Phase.Dot => digit ? To(Phase.Frac, 1) : null,
            Phase.Frac => digit ? (digits < MaxDigits ? To(Phase.Frac, digits + 1) : null) : b is (byte)'e' or (byte)'E' ? To(Phase.Exp, 0) : EndWith(b),
            Phase.Exp => digit ? To(Phase.ExpDigits, 1) : b is (byte)'+' or (byte)'-' ? To(Phase.ExpSign, 0) : null,
            Phase.ExpSign => digit ? To(Phase.ExpDigits, 1) : null,
            _ => digit ? (digits < MaxExponentDigits ? To(Phase.ExpDigits, digits + 1) : null) : EndWith(b),
        };
    }

    // '.' or an exponent after the integer part (not for integers).
    private NumberFrame? Fraction(byte b) => integer ? null : b switch
    {
        (byte)'.' => To(Phase.Dot, 0),
        (byte)'e' or (byte)'E' => To(Phase.Exp, 0),
        _ => null,
    };

    private NumberFrame To(Phase p, int d) => new(integer, Parent!, p, d);
}
