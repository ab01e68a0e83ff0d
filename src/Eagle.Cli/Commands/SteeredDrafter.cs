using Eagle.AI.Engine.Drafting;
using static TorchSharp.torch;

namespace Eagle.Cli.Commands;

/// <summary>
/// A real EAGLE drafter whose proposals are steered to a chosen acceptance rate, for <c>bench --acceptance P</c>:
/// random weights accept nothing and no real weights are reachable here, so the head runs for real (its cost is
/// real), and then along the chain the target will take (a recorded vanilla run of the same request) each drafted
/// token is the target's next token with probability P and a wrong one otherwise. Reading the tree back to steer it
/// costs one extra host read per round, which a real drafter does not pay.
/// </summary>
internal sealed class SteeredDrafter(EagleDrafter inner, double acceptance, int vocabSize, int seed) : IDrafter
{
    private readonly Random random = new(seed);
    private int[] sequence = [];
    private int consumed;

    /// <summary>The next request's prompt followed by the recorded continuation the target will produce.</summary>
    public void Steer(int[] promptAndContinuation) => sequence = promptAndContinuation;

    public FeatureRequest Features => inner.Features;
    public int MaxTreeTokens => inner.MaxTreeTokens;
    public TreeSettings Tree => inner.Tree;

    /// <remarks>Steers one request at a time: the recorded continuation and the count of consumed tokens are this drafter's.</remarks>
    public IDraftState Begin(int capacity)
    {
        consumed = 0;
        return inner.Begin(capacity);
    }

    public DraftTree Draft(IDraftState state, Tensor? features, int[] nextTokens, DraftContext context)
    {
        var drafted = inner.Draft(state, features, nextTokens, context);
        consumed += nextTokens.Length;                                  // the root is sequence[consumed]
        int[] tokens = [.. drafted.Tokens];
        int[] parents = drafted.Parents;
        // The chain follows, at each node, the child with the deepest subtree (parents precede children, so one
        // backward pass finds every subtree's height): the longest path the tree offers.
        var height = new int[parents.Length];
        for (int c = parents.Length - 1; c > 0; c--) height[parents[c]] = Math.Max(height[parents[c]], height[c] + 1);
        int node = 0;
        for (int depth = 1; ; depth++)
        {
            int want = consumed + depth < sequence.Length ? sequence[consumed + depth] : -1;
            int chosen = -1;
            for (int c = 1; c < parents.Length; c++)
            {
                if (parents[c] != node) continue;
                if (tokens[c] == want) tokens[c] = Wrong(want);          // no sibling is right by accident
                if (chosen < 0 || height[c] > height[chosen]) chosen = c;
            }
            if (chosen < 0) break;
            bool right = want >= 0 && random.NextDouble() < acceptance;
            tokens[chosen] = right ? want : Wrong(want);
            if (!right) break;                                          // nothing below a wrong token can be accepted
            node = chosen;
        }
        return new DraftTree(tokens, parents);
    }

    private int Wrong(int want) => want < 0 ? 0 : (want + 1) % vocabSize;

    public void Dispose() => inner.Dispose();
}
