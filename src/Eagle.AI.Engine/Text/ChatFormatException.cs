namespace Eagle.AI.Engine.Text;

/// <summary>A conversation the chat template cannot render (where the official template would raise an exception).</summary>
public sealed class ChatFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the conversation.</param>
    public ChatFormatException(string message)
        : base(message)
    {
    }
}
