using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Eagle.Samples.WebApi.Mapping;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// Reads a request's JSON body, refusing what is not JSON before anything runs: another content type is a 415 (a web
/// page can POST <c>text/plain</c> to any server without asking; it cannot send <c>application/json</c> unasked), a
/// body over the server's limit a 413, and text that is not Unicode (invalid UTF-8, a lone <c>\ud800</c>) a 400.
/// </summary>
internal static class JsonRequestReader
{
    public static async Task<T> ReadAsync<T>(HttpRequest http, JsonTypeInfo<T> type)
        where T : class
    {
        if (!http.HasJsonContentType())
        {
            string sent = string.IsNullOrEmpty(http.ContentType) ? "none was sent" : $"not '{http.ContentType}'";
            throw new RequestError(StatusCodes.Status415UnsupportedMediaType,
                $"The request's Content-Type must be application/json ({sent}).", null, "unsupported_media_type");
        }
        byte[] body = await ReadBodyAsync(http).ConfigureAwait(false);
        if (!Utf8.IsValid(body))
            throw new RequestError(StatusCodes.Status400BadRequest, "The request body is not valid UTF-8.", null, "invalid_json");
        try
        {
            CheckEscapedStrings(body);
            return JsonSerializer.Deserialize(body, type) ?? throw new RequestError("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            // Malformed JSON: the reader's error (a JsonException too) is the inner one, or the only one, and says where.
            // A value of the wrong type: its path (e.g. "$.messages[0].role") names the field; the serializer's message
            // would name our .NET types instead.
            if (e.InnerException is JsonException || e.Path is null)
                throw new RequestError(StatusCodes.Status400BadRequest, $"The request body is not valid JSON: {(e.InnerException ?? e).Message}", null, "invalid_json");
            if (e.Path is not { Length: > 2 } path)
                throw new RequestError("The request body must be a JSON object.");
            string param = path[2..];
            throw new RequestError(StatusCodes.Status400BadRequest, $"Invalid type for '{param}'.", param, "invalid_type");
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest http)
    {
        try
        {
            // The server's body limit (Server:MaxRequestBodyBytes) bounds this buffer.
            using var buffer = new MemoryStream();
            await http.Body.CopyToAsync(buffer, http.HttpContext.RequestAborted).ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new RequestError(StatusCodes.Status413PayloadTooLarge,
                "The request body is larger than this server accepts (Server:MaxRequestBodyBytes).", null, "request_too_large");
        }
        catch (BadHttpRequestException e)
        {
            throw new RequestError(e.StatusCode, "The request body could not be read: " + e.Message, null, null);
        }
    }

    /// <summary>
    /// An escaped string may decode to a lone surrogate, which .NET strings hold but no encoder writes back: caught
    /// here, it is the client's 400 rather than a 500 when the text reaches the tokenizer or the response.
    /// </summary>
    private static void CheckEscapedStrings(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped) continue;
            try
            {
                _ = reader.GetString();
            }
            catch (InvalidOperationException)
            {
                throw new RequestError(StatusCodes.Status400BadRequest,
                    "The request body holds a string that is not valid Unicode (an unpaired surrogate escape such as \\ud800).", null, "invalid_json");
            }
        }
    }
}
