using Eagle.Samples.WebApi.Contracts;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Diagnostics;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>Writes OpenAI-style error bodies, for refused requests, unknown URLs and unexpected failures.</summary>
internal static class ErrorWriter
{
    public static Task WriteAsync(HttpResponse response, RequestError error)
    {
        response.StatusCode = error.StatusCode;
        if (error.RetryAfter is { } retry)
            response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return response.WriteAsJsonAsync(error.ToResponse(), OpenAIJsonContext.Default.ErrorResponse, contentType: null, response.HttpContext.RequestAborted);
    }

    /// <summary>The 404 for a path this server does not have.</summary>
    public static Task UnknownUrlAsync(HttpContext context) => WriteAsync(context.Response, new RequestError(StatusCodes.Status404NotFound,
        $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", null, "unknown_url"));

    /// <summary>The 500 for an exception no endpoint handled (its details go to the log, not to the client).</summary>
    public static Task UnexpectedAsync(HttpContext context)
    {
        string message = context.Features.Get<IExceptionHandlerFeature>()?.Error is OperationCanceledException
            ? "The request was cancelled."
            : "The server failed to process the request; see its log.";
        return WriteAsync(context.Response, new RequestError(StatusCodes.Status500InternalServerError, message, null, null));
    }
}
