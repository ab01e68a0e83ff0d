namespace Eagle.AI.Engine.Text;

/// <summary>A formatted prompt.</summary>
/// <param name="Rendered">The prompt as the official template renders it, special tokens spelled out.</param>
/// <param name="Ids">
/// The prompt's ids, built segment by segment: special ids placed by the formatter, text between them encoded as plain
/// text. Special-token strings inside message content therefore stay ordinary text.
/// </param>
public sealed record ChatPrompt(string Rendered, IReadOnlyList<int> Ids);
