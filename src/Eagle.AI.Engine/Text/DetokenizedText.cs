namespace Eagle.AI.Engine.Text;

/// <summary>What one step of an <see cref="IncrementalDetokenizer"/> produced.</summary>
/// <param name="Text">New text that is safe to show: complete characters that cannot become part of a stop string.</param>
/// <param name="StopString">The stop string that was just hit (then <paramref name="Text"/> ends right before it), or null.</param>
public readonly record struct DetokenizedText(string Text, string? StopString)
{
    /// <summary>True when a stop string was hit; nothing follows.</summary>
    public bool Stopped => StopString is not null;
}
