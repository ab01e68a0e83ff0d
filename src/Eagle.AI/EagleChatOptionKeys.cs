namespace Eagle.AI;

/// <summary>
/// Keys of <c>ChatOptions.AdditionalProperties</c> that tune the engine for one request. Values may be the .NET type
/// (<see cref="bool"/>, <see cref="int"/>), a <see cref="System.Text.Json.JsonElement"/> of that kind, or its invariant
/// string; anything else throws <see cref="ArgumentOutOfRangeException"/> naming the key. Other keys are ignored.
/// </summary>
public static class EagleChatOptionKeys
{
    /// <summary><see cref="bool"/>: draft with the EAGLE head (true) or decode plainly (false); default <see cref="EagleOptions.Speculative"/>. True needs a draft model.</summary>
    public const string Speculative = "eagle.speculative";

    /// <summary><see cref="int"/>: tokens verified per round, root included (dynamic trees); default <see cref="EagleOptions.Tree"/>'s.</summary>
    public const string TreeTotalTokens = "eagle.tree_total_tokens";

    /// <summary><see cref="int"/>: expansion passes of a dynamic tree; default <see cref="EagleOptions.Tree"/>'s.</summary>
    public const string TreeDepth = "eagle.tree_depth";

    /// <summary><see cref="int"/>: children considered per draft node; default <see cref="EagleOptions.Tree"/>'s.</summary>
    public const string TreeTopK = "eagle.tree_top_k";
}
