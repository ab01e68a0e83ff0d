namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// Inside a JSON number. Digit runs are bounded (integer and fraction part 15 digits each, exponent 2) so a number
/// cannot grow forever and always fits a double; integers have no fraction or exponent. A bounded integer
/// (<see cref="NumberNode.Bounded"/>) tracks its value: a digit is allowed only when some continuation still lands in
/// range, and the number may end only in range, so the mask is exact for the bounds too.
/// </summary>
internal sealed class NumberFrame : JsonFrame
{
    private const int MaxDigits = 15, MaxExponentDigits = 2;
    private enum Phase : byte { Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits }

    private readonly NumberNode node;
    private readonly Phase phase;
    private readonly int digits;
    private readonly bool negative;                                             // bounded integers only: the sign
    private readonly long magnitude;                                            // and the digits' value so far

    private NumberFrame(NumberNode node, JsonFrame parent, Phase phase, int digits, bool negative = false, long magnitude = 0) : base(parent)
    {
        this.node = node;
        this.phase = phase;
        this.digits = digits;
        this.negative = negative;
        this.magnitude = magnitude;
    }

    /// <summary>A number starting with <paramref name="b"/>, or null when a number cannot start so.</summary>
    public static JsonFrame? Start(NumberNode node, JsonFrame parent, byte b) => b switch
    {
        (byte)'-' => new NumberFrame(node, parent, Phase.Minus, 0, negative: true).Feasible(),
        (byte)'0' => new NumberFrame(node, parent, Phase.Zero, 1).Feasible(),
        >= (byte)'1' and <= (byte)'9' => new NumberFrame(node, parent, Phase.Int, 1, false, b - '0').Feasible(),
        _ => null,
    };

    public override bool CanEnd => phase is Phase.Zero or Phase.Int or Phase.Frac or Phase.ExpDigits
        && (!node.Bounded || InRange(negative ? -magnitude : magnitude));

    public override JsonFrame? Step(byte b)
    {
        bool digit = b is >= (byte)'0' and <= (byte)'9';
        return phase switch
        {
            Phase.Minus => b == '0' ? To(Phase.Zero, 1, 0) : digit ? To(Phase.Int, 1, b - '0') : null,
            Phase.Zero => Fraction(b) ?? EndWith(b),
            Phase.Int => digit ? (digits < MaxDigits ? To(Phase.Int, digits + 1, magnitude * 10 + (b - '0')) : null) : Fraction(b) ?? EndWith(b),
            Phase.Dot => digit ? To(Phase.Frac, 1) : null,
            Phase.Frac => digit ? (digits < MaxDigits ? To(Phase.Frac, digits + 1) : null) : b is (byte)'e' or (byte)'E' ? To(Phase.Exp, 0) : EndWith(b),
            Phase.Exp => digit ? To(Phase.ExpDigits, 1) : b is (byte)'+' or (byte)'-' ? To(Phase.ExpSign, 0) : null,
            Phase.ExpSign => digit ? To(Phase.ExpDigits, 1) : null,
            _ => digit ? (digits < MaxExponentDigits ? To(Phase.ExpDigits, digits + 1) : null) : EndWith(b),
        };
    }

    // '.' or an exponent after the integer part (not for integers).
    private NumberFrame? Fraction(byte b) => node.Integer ? null : b switch
    {
        (byte)'.' => To(Phase.Dot, 0),
        (byte)'e' or (byte)'E' => To(Phase.Exp, 0),
        _ => null,
    };

    private NumberFrame? To(Phase p, int d, long value = 0) => new NumberFrame(node, Parent!, p, d, negative, value).Feasible();

    private bool InRange(long value) => value >= node.Min && value <= node.Max;

    // This frame, or null when no continuation of its digits lands within the bounds.
    private NumberFrame? Feasible()
    {
        if (!node.Bounded) return this;
        // The magnitudes still reachable, as a range, given the sign: [lo, hi] (−0 is 0).
        long lo = negative ? (node.Max >= 0 ? 0 : -node.Max) : Math.Max(node.Min, 0);
        long hi = negative ? (node.Min == long.MinValue ? long.MaxValue : -node.Min) : node.Max;
        if (lo > hi) return null;
        switch (phase)
        {
            case Phase.Minus: return lo <= Largest(MaxDigits) ? this : null;       // any magnitude of up to 15 digits
            case Phase.Zero: return lo == 0 ? this : null;                         // 0 (or −0) and nothing after it
            default:
                // With k more digits the magnitude is in [m·10^k, (m + 1)·10^k − 1].
                long first = magnitude, last = magnitude;
                for (int k = 0; k <= MaxDigits - digits; k++)
                {
                    if (first > hi) return null;
                    if (last >= lo) return this;
                    first *= 10;
                    last = last * 10 + 9;
                }
                return null;
        }
    }

    private static long Largest(int digitCount)
    {
        long v = 0;
        for (int i = 0; i < digitCount; i++) v = v * 10 + 9;
        return v;
    }
}
