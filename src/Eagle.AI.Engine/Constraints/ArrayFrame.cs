namespace Eagle.AI.Engine.Constraints;

/// <summary>Inside a JSON array: its element count so far bounds when ']' and ',' are allowed.</summary>
internal sealed class ArrayFrame : JsonFrame
{
    /// <summary>An array of any values.</summary>
    public static readonly ArrayNode AnyArray = new(AnyNode.Instance, 0, int.MaxValue);

    private enum Phase : byte { Open, After, Comma }

    private readonly ArrayNode node;
    private readonly Phase phase;
    private readonly int count, spaces;

    public ArrayFrame(ArrayNode node, JsonFrame parent) : this(node, parent, Phase.Open, 0, 0) { }

    private ArrayFrame(ArrayNode node, JsonFrame parent, Phase phase, int count, int spaces) : base(parent)
    {
        this.node = node;
        this.phase = phase;
        this.count = count;
        this.spaces = spaces;
    }

    public override JsonFrame? Step(byte b)
    {
        if (IsSpace(b)) return spaces < MaxWhitespace ? new ArrayFrame(node, Parent!, phase, count, spaces + 1) : null;
        return phase switch
        {
            Phase.Open when b == ']' => count >= node.Min ? Parent : null,
            Phase.After when b == ']' => count >= node.Min ? Parent : null,
            Phase.After when b == ',' => count < node.Max ? new ArrayFrame(node, Parent!, Phase.Comma, count, 0) : null,
            Phase.After => null,
            _ => count < node.Max ? Start(node.Items, new ArrayFrame(node, Parent!, Phase.After, count + 1, 0), b) : null,
        };
    }
}
