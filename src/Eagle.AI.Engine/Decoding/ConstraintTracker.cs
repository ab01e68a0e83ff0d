using System.Diagnostics;
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
    public void Accept(int token) =>
        State = constraint.Next(State, token, stops) ?? throw new InvalidOperationException($"token {token} breaks the output constraint");

    /// <summary>Logits [V] with every token the current state forbids at −∞.</summary>
    public Tensor Mask(Tensor logits) => MaskRows(logits.unsqueeze(0), [State]).squeeze(0);

    /// <summary>Logits [n, V] with row i masked by <paramref name="states"/>[i].</summary>
    public Tensor MaskRows(Tensor logits, IReadOnlyList<JsonFrame> states)
    {
        int n = (int)logits.shape[0], vocab = (int)logits.shape[1];
        var allowed = new bool[n * vocab];
        double before = clock.Elapsed.TotalMilliseconds;
        clock.Start();
        // Nodes often share a state (plain text inside a string returns the same frame): each distinct one is walked once.
        var first = new Dictionary<JsonFrame, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < n; i++)
        {
            var row = allowed.AsSpan(i * vocab, vocab);
            if (first.TryGetValue(states[i], out int j)) allowed.AsSpan(j * vocab, vocab).CopyTo(row);
            else
            {
                constraint.Allowed(states[i], stops, row);
                first[states[i]] = i;
                Masks++;
            }
        }
        clock.Stop();
        stepMs.Add(clock.Elapsed.TotalMilliseconds - before);
        using var mask = tensor(allowed, [n, vocab], device: logits.device);
        using var forbidden = mask.logical_not();
        return logits.Fill(forbidden, double.NegativeInfinity);
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
            states[i] = states[parents[i]] is { } p ? constraint.Next(p, tokens[i], stops) : null;
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
}
