namespace Eagle.AI.Engine.Text;

/// <summary>What the beginning of streamed assistant output says about a tool call.</summary>
public enum ToolCallStart
{
    /// <summary>Too little output to tell (white space, or part of a marker such as <c>&lt;|pyth</c>).</summary>
    Undecided,

    /// <summary>The output starts like a tool call; buffer it and parse it at the end.</summary>
    ToolCall,

    /// <summary>The output is text; stream it.</summary>
    PlainText,
}
