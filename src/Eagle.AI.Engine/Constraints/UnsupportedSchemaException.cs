namespace Eagle.AI.Engine.Constraints;

/// <summary>
/// A JSON Schema uses a keyword (or a form of one) that constrained decoding cannot enforce; the message names it.
/// Thrown instead of decoding unconstrained, so a caller never gets output the schema did not hold it to.
/// </summary>
public sealed class UnsupportedSchemaException : NotSupportedException
{
    /// <summary>Creates the exception with a message naming the keyword and where it is.</summary>
    public UnsupportedSchemaException(string message) : base(message) { }

    /// <summary>Creates the exception with no message.</summary>
    public UnsupportedSchemaException() { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public UnsupportedSchemaException(string message, Exception inner) : base(message, inner) { }
}
