using System.Net;
using System.Text;
using System.Text.Json;

namespace Eagle.Samples.Tests;

/// <summary>Posting raw request bodies, so tests control the exact JSON a client sends.</summary>
internal static class Http
{
    public const string ChatCompletions = "/v1/chat/completions";

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string body, CancellationToken cancellationToken = default) =>
        client.PostAsync(ChatCompletions, new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);

    /// <summary>Checks the status and the JSON content type, and returns the parsed body.</summary>
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"Expected {expected}, got {response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Checks an OpenAI error body and returns its <c>error</c> object.</summary>
    public static async Task<JsonElement> ErrorAsync(this HttpResponseMessage response, HttpStatusCode expected, string? param)
    {
        var body = await response.JsonAsync(expected);
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal((int)expected >= 500 ? "server_error" : expected == HttpStatusCode.TooManyRequests ? "rate_limit_error" : "invalid_request_error",
            error.GetProperty("type").GetString());
        var actualParam = error.GetProperty("param");
        Assert.Equal(param, actualParam.ValueKind == JsonValueKind.Null ? null : actualParam.GetString());
        Assert.True(error.TryGetProperty("code", out _), "The error has no 'code' (OpenAI always sends it, possibly null).");
        return error;
    }
}
