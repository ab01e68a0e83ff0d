using System.Diagnostics;
using System.Runtime.CompilerServices;
using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// A session's side of an <see cref="OutputConstraint"/>: the grammar state after the emitted tokens, the mask it puts
/// on the target's logits (one row, or one per draft-tree node from that node's own state), and the pruning of drafted
/// tokens the grammar forbids. Masking happens on the logits, before the sampler's temperature, top-k and top-p, so
/// greedy and sampled acceptance see exactly the constrained distribution vanilla decoding samples from.
/// </summary>
internal sealed class ConstraintTracker(OutputConstraint constraint, IReadOnlySet<int> stops)
{
    private readonly Stopwatch clock = new();
    private readonly List<double> stepMs = [];

    // A round's memo (cleared when a token is emitted): the drafter's guide and the verification step then share the
    // same frame objects for the same draft paths, so a state masked while drafting is not walked again to verify.
    private readonly Dictionary<(JsonFrame, int), JsonFrame?> transitions = new(FrameAndToken.Instance);
    private readonly Dictionary<JsonFrame, bool[]> rows = new(ReferenceEqualityComparer.Instance);

    /// <summary>The grammar state after every emitted token.</summary>
    public JsonFrame State { get; private set; } = constraint.Start();

    /// <summary>Time spent computing masks.</summary>
    public double MaskMs => clock.Elapsed.TotalMilliseconds;

    /// <summary>Time to mask each step's logits.</summary>
    public IReadOnlyList<double> StepMs => [.. stepMs];

    /// <summary>Masks computed (one per distinct state).</summary>
    public int Masks { get; private set; }

    /// <summary>Moves the state past an emitted token.</summary>
    /// <exception cref="InvalidOperationException">The token breaks the constraint (a masking bug: it is never chosen).</exception>
    public void Accept(int token)
    {
        State = constraint.Next(State, token, stops) ?? throw new InvalidOperationException($"token {token} breaks the output constraint");
        transitions.Clear();
        rows.Clear();
    }

    /// <summary>The state after <paramref name="token"/> from <paramref name="state"/> (null = forbidden), memoised for the round.</summary>
    public JsonFrame? Next(JsonFrame state, int token)
    {
        if (!transitions.TryGetValue((state, token), out var next))
            transitions[(state, token)] = next = constraint.Next(state, token, stops);
        return next;
    }

    /// <summary>The tokens <paramref name="state"/> allows, one entry per id of a <paramref name="vocab"/>-wide logit row, computed once a round.</summary>
    public bool[] AllowedRow(JsonFrame state, int vocab)
    {
        if (rows.TryGetValue(state, out var row) && row.Length == vocab) return row;
        row = new bool[vocab];
        bool timed = !clock.IsRunning;                                          // MaskRows times its whole step itself
        if (timed) clock.Start();
        constraint.Allowed(state, stops, row);
        if (timed) clock.Stop();
        Masks++;
        return rows[state] = row;
    }

    /// <summary>Logits [V] with every token the current state forbids at −∞.</summary>
    public Tensor Mask(Tensor logits) => MaskRows(logits.unsqueeze(0), [State]).squeeze(0);

    /// <summary>Logits [n, V] with row i masked by <paramref name="states"/>[i].</summary>
    public Tensor MaskRows(Tensor logits, IReadOnlyList<JsonFrame> states)
    {
        int n = (int)logits.shape[0], vocab = (int)logits.shape[1];
        var allowed = new bool[n * vocab];
        double before = clock.Elapsed.TotalMilliseconds;
        clock.Start();
        // Nodes often share a state (plain text inside a string returns the same frame), and the drafter's guide masked
        // many of them already this round: each distinct one is walked once.
        for (int i = 0; i < n; i++)
            AllowedRow(states[i], vocab).CopyTo(allowed.AsSpan(i * vocab, vocab));
        clock.Stop();
        stepMs.Add(clock.Elapsed.TotalMilliseconds - before);
        return Forbid(logits, allowed);
    }

    /// <summary><paramref name="x"/> [n, v] with every entry that <paramref name="allowed"/> (row-major, n × v) does not allow at −∞.</summary>
    public static Tensor Forbid(Tensor x, bool[] allowed)
    {
        using var mask = tensor(allowed, [x.shape[0], x.shape[1]], device: x.device);
        using var forbidden = mask.logical_not();
        return x.Fill(forbidden, double.NegativeInfinity);
    }

    /// <summary>
    /// Each node's grammar state, and the tree without the nodes the grammar forbids (with their subtrees). A tree whose
    /// children were sampled from recorded draft distributions keeps every node: its acceptance rule needs each rejection,
    /// and a forbidden node (target probability 0 after masking) is always rejected; nodes at and below it get no mask.
    /// </summary>
    public (DraftTree Tree, JsonFrame[] States) Prune(DraftTree tree)
    {
        int[] tokens = tree.Tokens, parents = tree.Parents;                    // a device tree is read back once here
        var states = new JsonFrame?[tokens.Length];
        states[0] = State;                                                     // the root is emitted already
        for (int i = 1; i < tokens.Length; i++)
            states[i] = states[parents[i]] is { } p ? Next(p, tokens[i]) : null;
        if (tree.HasDistributions || states.All(s => s is not null))
            return (tree, [.. states.Select(s => s ?? OutputConstraint.Over)]);

        var index = new int[tokens.Length];
        List<int> keptTokens = [], keptParents = [];
        List<JsonFrame> keptStates = [];
        for (int i = 0; i < tokens.Length; i++)
        {
            index[i] = -1;
            if (states[i] is not { } s) continue;                               // forbidden, or below a forbidden node
            index[i] = keptTokens.Count;
            keptTokens.Add(tokens[i]);
            keptParents.Add(i == 0 ? -1 : index[parents[i]]);
            keptStates.Add(s);
        }
        return (new DraftTree([.. keptTokens], [.. keptParents]), [.. keptStates]);
    }

    private sealed class FrameAndToken : IEqualityComparer<(JsonFrame Frame, int Token)>
    {
        public static readonly FrameAndToken Instance = new();
        public bool Equals((JsonFrame Frame, int Token) x, (JsonFrame Frame, int Token) y) => ReferenceEquals(x.Frame, y.Frame) && x.Token == y.Token;
        public int GetHashCode((JsonFrame Frame, int Token) o) => HashCode.Combine(RuntimeHelpers.GetHashCode(o.Frame), o.Token);
    }
}
