using System.Text;

namespace Eagle.AI.Engine.Text;

/// <summary>One piece of a prompt: a special id, or a run of text between special ids.</summary>
/// <param name="SpecialId">The special id, or -1 for text.</param>
/// <param name="Text">The text, or null for a special id.</param>
internal readonly record struct PromptSegment(int SpecialId, string? Text);

/// <summary>
/// Collects a prompt as segments. Adjacent text is merged before encoding because HF encodes the rendered string,
/// where text runs only break at special tokens; encoding "\n\n" and the content separately could tokenize differently.
/// </summary>
internal sealed class PromptBuilder
{
    private readonly List<PromptSegment> _segments = [];
    private readonly StringBuilder _text = new();

    /// <summary>Appends a special id.</summary>
    public PromptBuilder Special(int id)
    {
        FlushText();
        _segments.Add(new PromptSegment(id, null));
        return this;
    }

    /// <summary>Appends text (encoded as plain text, whatever it contains).</summary>
    public PromptBuilder Text(string text)
    {
        _text.Append(text);
        return this;
    }

    /// <summary>Appends <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n</c>.</summary>
    public PromptBuilder Header(string role) =>
        Special(Llama3SpecialTokens.StartHeader).Text(role).Special(Llama3SpecialTokens.EndHeader).Text("\n\n");

    /// <summary>The segments collected so far.</summary>
    public IReadOnlyList<PromptSegment> Build()
    {
        FlushText();
        return _segments;
    }

    /// <summary>The prompt as the template renders it; special ids are spelled with their canonical names.</summary>
    public static string Render(IReadOnlyList<PromptSegment> segments) =>
        string.Concat(segments.Select(s => s.Text ?? Llama3SpecialTokens.DefaultName(s.SpecialId)));

    /// <summary>The prompt's ids: special ids as they are, text encoded as plain text.</summary>
    public static int[] Encode(IReadOnlyList<PromptSegment> segments, Llama3Tokenizer tokenizer) =>
        [.. segments.SelectMany(s => s.Text is null ? [s.SpecialId] : tokenizer.Encode(s.Text))];

    private void FlushText()
    {
        if (_text.Length > 0)
        {
            _segments.Add(new PromptSegment(-1, _text.ToString()));
            _text.Clear();
        }
    }
}
