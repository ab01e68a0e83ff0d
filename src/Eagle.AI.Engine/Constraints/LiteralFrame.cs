namespace Eagle.AI.Engine.Constraints;

/// <summary>Inside one of a few exact texts (<c>true</c>, <c>null</c>, an <c>enum</c> value): the candidates that still match.</summary>
internal sealed class LiteralFrame : JsonFrame
{
    /// <summary>The keywords of an unconstrained value.</summary>
    public static readonly LiteralNode Keywords = new([[.. "true"u8], [.. "false"u8], [.. "null"u8]]);

    private readonly LiteralNode node;
    private readonly int[] alive;                                              // indices into node.Values
    private readonly int matched;                                              // bytes matched so far

    private LiteralFrame(LiteralNode node, JsonFrame parent, int[] alive, int matched) : base(parent)
    {
        this.node = node;
        this.alive = alive;
        this.matched = matched;
    }

    /// <summary>The literal starting with <paramref name="b"/>, or null when none does.</summary>
    public static JsonFrame? Start(LiteralNode node, JsonFrame parent, byte b) =>
        new LiteralFrame(node, parent, [.. Enumerable.Range(0, node.Values.Length)], 0).Continue(b);

    public override bool CanEnd => alive.Any(i => node.Values[i].Length == matched);

    // A candidate may continue with b and another be complete (enum [1, 12]): both stay possible.
    public override JsonFrame? Step(byte b) => CanEnd ? Fork.Of([Continue(b), Parent!.Step(b)]) : Continue(b);

    private LiteralFrame? Continue(byte b)
    {
        var next = alive.Where(i => node.Values[i].Length > matched && node.Matches(node.Values[i][matched], b)).ToArray();
        return next.Length == 0 ? null : new LiteralFrame(node, Parent!, next, matched + 1);
    }
}
