namespace Eagle.AI;

/// <summary>
/// The prompt leaves no room for one new token within the engine's context limit
/// (<see cref="EagleOptions.MaxContextTokens"/>, capped by the model's <c>max_position_embeddings</c>). An
/// <see cref="ArgumentException"/>, so callers that handle bad arguments keep working; its type lets a server answer with
/// OpenAI's <c>context_length_exceeded</c> and an agent trim its history.
/// </summary>
public sealed class ContextLengthExceededException : ArgumentException
{
    /// <summary>Creates the exception for a prompt of <paramref name="promptTokens"/> tokens against <paramref name="contextTokens"/>.</summary>
    public ContextLengthExceededException(int promptTokens, int contextTokens, string? paramName)
        : base($"The prompt has {promptTokens} tokens; the context limit is {contextTokens} (EagleOptions.MaxContextTokens, capped by the " +
               "model's max_position_embeddings), and the prompt and at least one new token must fit.", paramName)
    {
        PromptTokens = promptTokens;
        ContextTokens = contextTokens;
    }

    /// <summary>Creates the exception with a message of the caller's.</summary>
    public ContextLengthExceededException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message of the caller's and its cause.</summary>
    public ContextLengthExceededException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a message of its own.</summary>
    public ContextLengthExceededException()
    {
    }

    /// <summary>Tokens in the refused prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>The context limit it had to fit in (with one new token).</summary>
    public int ContextTokens { get; }
}
