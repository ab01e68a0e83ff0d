using Eagle.AI;

namespace Eagle.Samples.Console;

/// <summary>
/// Draws model loading as one redrawn line per part, <c>loading target [##########..........] 120/291</c>, on a
/// terminal's stderr. Hand-drawn: ShellProgressBar draws on stdout (the chat's stream) and Spectre.Console's live bar
/// wants to own the loading call, while this only listens to the engine's <see cref="IProgress{T}"/> reports.
/// </summary>
public sealed class LoadProgressBar(TextWriter writer) : IProgress<ModelLoadProgress>
{
    private const int Width = 30;

    /// <inheritdoc/>
    public void Report(ModelLoadProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int filled = value.Total == 0 ? Width : value.Done * Width / value.Total;
        writer.Write($"\rloading {value.Part} [{new string('#', filled)}{new string('.', Width - filled)}] {value.Done}/{value.Total}");
        if (value.Done >= value.Total) writer.WriteLine();
        writer.Flush();
    }
}
