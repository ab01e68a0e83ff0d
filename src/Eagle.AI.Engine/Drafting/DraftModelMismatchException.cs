namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// A draft head that is well-formed on its own but does not fit the target it is paired with: a different hidden size
/// or vocabulary, a <c>d2t</c> entry that maps outside the target vocabulary, or capture layers the target does not
/// have. Problems with the head's files themselves raise <see cref="Checkpoints.CheckpointException"/> instead.
/// </summary>
public sealed class DraftModelMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception; <paramref name="headPath"/> is the head's folder or file, null for an in-memory head.</summary>
    public DraftModelMismatchException(string? headPath, string message)
        : base(headPath is null ? $"draft head does not fit the target: {message}" : $"{headPath}: draft head does not fit the target: {message}")
    {
        HeadPath = headPath;
    }

    /// <summary>The head's folder or file, when it was loaded from one.</summary>
    public string? HeadPath { get; }
}
