namespace Eagle.AI.Engine.Drafting;

/// <summary>How a draft tree is shaped.</summary>
public enum TreeKind
{
    /// <summary>EAGLE-2/3: a cumulative-log-probability beam whose best <see cref="TreeSettings.TotalTokens"/> − 1 candidates are kept.</summary>
    Dynamic,
    /// <summary>EAGLE-1: a fixed set of top-k rank paths (<see cref="TreeSettings.StaticChoices"/>).</summary>
    Static,
}

/// <summary>
/// The draft tree's shape. Defaults are the reference library's (<c>total_token=60, depth=7, top_k=10</c>): 60 verified
/// tokens including the root, i.e. 59 draft nodes. A static tree uses <see cref="StaticChoices"/> (default
/// <see cref="McSim7b63"/>) and <see cref="TopK"/> only.
/// </summary>
public sealed record TreeSettings
{
    /// <summary>Largest accepted <see cref="TotalTokens"/>.</summary>
    public const int MaxTotalTokens = 1024;
    /// <summary>Largest accepted <see cref="Depth"/>.</summary>
    public const int MaxDepth = 64;
    /// <summary>Largest accepted <see cref="TopK"/>.</summary>
    public const int MaxTopK = 256;

    /// <summary>Dynamic (EAGLE-2/3) or static (EAGLE-1).</summary>
    public TreeKind Kind { get; init; } = TreeKind.Dynamic;

    /// <summary>
    /// When true, <see cref="TotalTokens"/> and <see cref="Depth"/> are upper bounds and each round's size — or no
    /// draft at all — is chosen by <see cref="Decoding.SpeculationPolicy"/> from the measured costs of this device and
    /// the acceptance seen so far in the request. A static tree is then drafted whole or not at all. Greedy output is
    /// the same either way; a seeded sampled output depends on the sizes chosen, which depend on the costs measured at
    /// load, so pin the size (false) to reproduce sampled output across loads.
    /// </summary>
    public bool Adaptive { get; init; }

    /// <summary>Tokens the target verifies per round, root included (dynamic trees): M = TotalTokens − 1 draft nodes.</summary>
    public int TotalTokens { get; init; } = 60;

    /// <summary>Expansion passes of a dynamic tree; its longest path has Depth + 1 draft tokens.</summary>
    public int Depth { get; init; } = 7;

    /// <summary>Children considered per node (beam width of a dynamic tree); clamped to the draft vocabulary.</summary>
    public int TopK { get; init; } = 10;

    /// <summary>
    /// A static tree's nodes, each a path of top-k ranks from the root (<c>[0, 1]</c> = second-best child of the best
    /// child); every proper prefix of a path must be listed too. Null = <see cref="McSim7b63"/>.
    /// </summary>
    public IReadOnlyList<int[]>? StaticChoices { get; init; }

    /// <summary>The reference library defaults: dynamic, 60 tokens, depth 7, top-10.</summary>
    public static TreeSettings Default { get; } = new();

    /// <summary><see cref="Default"/> as an upper bound, each round's size chosen by <see cref="Decoding.SpeculationPolicy"/>: what the provider and the CLI use unless told otherwise.</summary>
    public static TreeSettings AdaptiveDefault { get; } = new() { Adaptive = true };

    /// <summary>A static tree over <paramref name="choices"/> (default <see cref="McSim7b63"/>) with top-10 children.</summary>
    public static TreeSettings Static(IReadOnlyList<int[]>? choices = null) => new() { Kind = TreeKind.Static, StaticChoices = choices };

    /// <summary>EAGLE-1's <c>mc_sim_7b_63</c> tree: 25 draft nodes, 5 deep.</summary>
    public static IReadOnlyList<int[]> McSim7b63 { get; } =
    [
        [0], [1], [2], [3], [0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [2, 0], [2, 1], [3, 0],
        [0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0], [0, 1, 1], [0, 2, 0], [0, 2, 1], [1, 0, 0],
        [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1],
    ];

    /// <summary>The static tree's choices (the given ones or the default).</summary>
    public IReadOnlyList<int[]> EffectiveChoices => StaticChoices ?? McSim7b63;

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A number is out of its range; the message names the option and the range.</exception>
    /// <exception cref="ArgumentException">The static choices do not describe a tree.</exception>
    public void Validate()
    {
        static void InRange(string name, int value, int min, int max)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}]");
        }
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"{nameof(Kind)} must be Dynamic or Static");
        InRange(nameof(TopK), TopK, 1, MaxTopK);
        if (Kind == TreeKind.Dynamic)
        {
            InRange(nameof(TotalTokens), TotalTokens, 2, MaxTotalTokens);
            InRange(nameof(Depth), Depth, 1, MaxDepth);
            return;
        }
        var choices = EffectiveChoices;
        if (choices.Count == 0) throw new ArgumentException($"{nameof(StaticChoices)} must not be empty", nameof(StaticChoices));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in choices)
        {
            string text = $"[{string.Join(", ", c ?? [])}]";
            if (c is null || c.Length == 0 || c.Length > MaxDepth)
                throw new ArgumentException($"{nameof(StaticChoices)}: path {text} must have 1 to {MaxDepth} ranks", nameof(StaticChoices));
            foreach (int r in c)
                if (r < 0 || r >= TopK)
                    throw new ArgumentOutOfRangeException(nameof(StaticChoices), r, $"{nameof(StaticChoices)}: path {text} has rank {r}; ranks must be in [0, {nameof(TopK)} - 1 = {TopK - 1}]");
            if (!seen.Add(text))
                throw new ArgumentException($"{nameof(StaticChoices)}: path {text} is listed twice", nameof(StaticChoices));
        }
        foreach (var c in choices)
            for (int len = 1; len < c.Length; len++)
                if (!seen.Contains($"[{string.Join(", ", c[..len])}]"))
                    throw new ArgumentException(
                        $"{nameof(StaticChoices)}: path [{string.Join(", ", c)}] needs its prefix [{string.Join(", ", c[..len])}] listed too",
                        nameof(StaticChoices));
    }
}
