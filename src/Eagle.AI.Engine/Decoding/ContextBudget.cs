namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// How many KV positions a request gets: prompt + max new tokens + room for a draft tree, capped by the context limit.
/// Never the model's <c>max_position_embeddings</c> blindly: 131072 positions of fp16 KV for an 8B model is 17 GB.
/// </summary>
internal static class ContextBudget
{
    /// <summary>The default context limit.</summary>
    public const int DefaultContextLimit = 8192;

    /// <summary>The KV capacity of a non-empty prompt, or an exception naming the limit when the prompt alone does not fit.</summary>
    /// <exception cref="ArgumentException">The prompt does not fit in the context limit.</exception>
    public static int Capacity(int promptTokens, int maxNewTokens, int treeTokens, int contextLimit)
    {
        if (promptTokens >= contextLimit)
            throw new ArgumentException(
                $"the prompt has {promptTokens} tokens; the context limit is {contextLimit} (prompt and at least one new token must fit)", "prompt");
        long want = (long)promptTokens + maxNewTokens + treeTokens;
        return (int)Math.Min(want, contextLimit);
    }
}
