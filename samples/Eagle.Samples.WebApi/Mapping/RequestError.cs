using Eagle.Samples.WebApi.Contracts;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// A request the server refuses, with what the OpenAI error body needs: the HTTP status, a message, the parameter at
/// fault (e.g. <c>messages[2].tool_call_id</c>) and a machine-readable code.
/// </summary>
internal sealed class RequestError : Exception
{
    public RequestError(int statusCode, string message, string? param, string? code)
        : base(message)
    {
        StatusCode = statusCode;
        Param = param;
        Code = code;
    }

    public RequestError(int statusCode, string message, string? param, string? code, Exception? innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Param = param;
        Code = code;
    }

    public RequestError()
        : this(StatusCodes.Status400BadRequest, "The request is invalid.", null, null)
    {
    }

    public RequestError(string message)
        : this(StatusCodes.Status400BadRequest, message, null, null)
    {
    }

    public RequestError(string message, Exception innerException)
        : base(message, innerException) => StatusCode = StatusCodes.Status400BadRequest;

    public int StatusCode { get; }

    public string? Param { get; }

    public string? Code { get; }

    /// <summary>Sent as the <c>Retry-After</c> header (whole seconds) when set.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>A 400 naming <paramref name="param"/>.</summary>
    public static RequestError Invalid(string param, string message, string code = "invalid_value") =>
        new(StatusCodes.Status400BadRequest, message, param, code);

    /// <summary>A 400 for a required parameter that is absent.</summary>
    public static RequestError Missing(string param) =>
        new(StatusCodes.Status400BadRequest, $"Missing required parameter: '{param}'.", param, "missing_required_parameter");

    /// <summary>The 404 OpenAI answers for a model it does not serve.</summary>
    public static RequestError ModelNotFound(string model, string served) =>
        new(StatusCodes.Status404NotFound, $"The model '{model}' does not exist. This server serves '{served}' (see GET /v1/models).", "model", "model_not_found");

    /// <summary>The body OpenAI clients parse.</summary>
    public ErrorResponse ToResponse() => new(new ErrorDetail
    {
        Message = Message,
        Type = StatusCode >= 500 ? "server_error" : StatusCode == StatusCodes.Status429TooManyRequests ? "rate_limit_error" : "invalid_request_error",
        Param = Param,
        Code = Code,
    });
}
