namespace Eagle.AI.Engine.Checkpoints;

/// <summary>
/// The one error a checkpoint problem raises: a missing, truncated or malformed file, an unsupported dtype, or a tensor
/// that is missing, unexpected or shaped differently from <c>config.json</c>. Names the file and, where known, the tensor.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CheckpointException(string file, string? tensor, string message, Exception? inner = null)
        : base(Format(file, tensor, message), inner)
    {
        File = file;
        Tensor = tensor;
    }

    /// <summary>The checkpoint file (or folder) the problem is in.</summary>
    public string File { get; }

    /// <summary>The tensor the problem is about, when there is one.</summary>
    public string? Tensor { get; }

    private static string Format(string file, string? tensor, string message) =>
        tensor is null ? $"{file}: {message}" : $"{file}: tensor '{tensor}': {message}";
}
