using System.Net;

namespace Eagle.AI;

/// <summary>
/// In remote mode (<see cref="EagleOptions.Endpoint"/>), the OpenAI-compatible server refused a request (a 4xx or, after
/// the retries, a 5xx: <see cref="HttpRequestException.StatusCode"/>), could not be reached, did not answer in time
/// (<see cref="EagleOptions.RequestTimeout"/>), or broke off a streamed answer. The message names the endpoint, the
/// status and the server's own error message; <see cref="Exception.InnerException"/> is what the HTTP client threw.
/// </summary>
public sealed class ChatServerException : HttpRequestException
{
    /// <summary>Creates the exception for a failure at <paramref name="endpoint"/>.</summary>
    /// <param name="message">What went wrong, naming the endpoint.</param>
    /// <param name="endpoint">The server's base address (<see cref="EagleOptions.Endpoint"/>).</param>
    /// <param name="statusCode">The server's HTTP status; null when no response came (unreachable, timed out, broken off).</param>
    /// <param name="httpRequestError">The kind of transport failure, <see cref="HttpRequestError.Unknown"/> when the server answered.</param>
    /// <param name="innerException">What the HTTP client threw.</param>
    public ChatServerException(string message, Uri endpoint, HttpStatusCode? statusCode, HttpRequestError httpRequestError, Exception? innerException)
        : base(httpRequestError, message, innerException, statusCode)
    {
        Endpoint = endpoint;
    }

    /// <summary>Creates the exception with a message of the caller's.</summary>
    /// <param name="message">What went wrong.</param>
    public ChatServerException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ChatServerException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the default message.</summary>
    public ChatServerException() : this("The chat server failed the request.")
    {
    }

    /// <summary>The server's base address (<see cref="EagleOptions.Endpoint"/>); null when the caller did not give it.</summary>
    public Uri? Endpoint { get; }
}
