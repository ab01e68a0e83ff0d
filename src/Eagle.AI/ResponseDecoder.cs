using System.Text;
using Eagle.AI.Engine.Text;

namespace Eagle.AI;

/// <summary>
/// Turns one answer's token ids into what the client shows: text as soon as it is complete UTF-8 and cannot be the
/// start of a stop sequence, or, when tools were offered and the answer starts like a call (<c>{</c>,
/// <c>&lt;|python_tag|&gt;</c>, <c>&lt;function=</c>), nothing until the end, where it is parsed into calls or, if it
/// does not parse, shown as text after all. Everything shown, <see cref="Append"/> after <see cref="Append"/> and then
/// <see cref="Finish"/>, concatenates to the decoded answer cut before the first stop sequence. One per request; it runs
/// on the generation thread until the request ends, then on the caller's.
/// </summary>
internal sealed class ResponseDecoder
{
    private enum Mode { Undecided, Text, ToolCall }

    private readonly IncrementalDetokenizer detokenizer;
    private readonly StringBuilder held = new();
    private Mode mode;
    private bool pythonTag;

    public ResponseDecoder(Llama3Tokenizer tokenizer, IReadOnlyList<string> stopSequences, bool detectToolCalls)
    {
        detokenizer = new IncrementalDetokenizer(tokenizer, stopSequences);
        mode = detectToolCalls ? Mode.Undecided : Mode.Text;
    }

    /// <summary>True once a stop sequence was generated: nothing after it is shown, and generation can end.</summary>
    public bool Stopped => detokenizer.StopString is not null;

    /// <summary>Adds one round's ids; returns the text that became safe to show (often empty).</summary>
    public string Append(IReadOnlyList<int> ids)
    {
        var shown = new StringBuilder();
        foreach (int id in ids)
        {
            if (detokenizer.IsFinished) break;
            // <|python_tag|> is a special id: it decodes to no text, so it is recognised by id.
            if (id == Llama3SpecialTokens.PythonTag && mode == Mode.Undecided && IsBlank(held))
            {
                mode = Mode.ToolCall;
                pythonTag = true;
                continue;
            }
            Take(detokenizer.Append([id]).Text, shown);
        }
        return shown.ToString();
    }

    /// <summary>Ends the answer: the text still held back, or the tool calls it consists of.</summary>
    public DecodedAnswer Finish()
    {
        var shown = new StringBuilder();
        Take(detokenizer.Flush().Text, shown);
        if (mode != Mode.ToolCall)
            return new DecodedAnswer(shown.Append(held).ToString(), [], mode == Mode.Undecided ? "the answer is empty" : "the answer is plain text", false);
        string body = held.ToString();
        return Llama3ToolCallParser.TryParse(pythonTag ? "<|python_tag|>" + body : body, out var calls)
            ? new DecodedAnswer(shown.ToString(), calls, null, true)
            : new DecodedAnswer(shown.Append(body).ToString(), [], "the answer starts like a tool call but is not a well-formed one", true);
    }

    private void Take(string text, StringBuilder shown)
    {
        if (text.Length == 0) return;
        if (mode == Mode.Text)
        {
            shown.Append(text);
            return;
        }
        held.Append(text);
        if (mode == Mode.ToolCall) return;
        switch (Llama3ToolCallParser.ClassifyStart(held.ToString()))
        {
            case ToolCallStart.ToolCall:
                mode = Mode.ToolCall;
                break;
            case ToolCallStart.PlainText:
                mode = Mode.Text;
                shown.Append(held);
                held.Clear();
                break;
        }
    }

    private static bool IsBlank(StringBuilder text)
    {
        foreach (var chunk in text.GetChunks())
            if (!chunk.Span.IsWhiteSpace()) return false;
        return true;
    }
}
