namespace Eagle.AI.Engine.Text;

/// <summary>Who speaks a <see cref="PromptMessage"/>.</summary>
public enum PromptRole
{
    /// <summary>Instructions; the first one becomes the 3.1 system block.</summary>
    System,

    /// <summary>The user.</summary>
    User,

    /// <summary>The model: text or tool calls.</summary>
    Assistant,

    /// <summary>A tool result, rendered as an <c>ipython</c> turn.</summary>
    Tool,
}
