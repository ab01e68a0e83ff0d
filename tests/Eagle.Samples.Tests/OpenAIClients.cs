using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Eagle.Samples.Tests;

/// <summary>The official OpenAI .NET client, as an <see cref="IChatClient"/>, talking to a test server.</summary>
internal static class OpenAIClients
{
    /// <summary>A client of a server in memory.</summary>
    public static IChatClient Create(WebApplicationFactory<Program> server, string model) =>
        Create(server.CreateClient(), new Uri(server.Server.BaseAddress + "v1"), model, "not-checked");

    /// <summary>A client over <paramref name="http"/> (e.g. to a server on loopback), sending <paramref name="apiKey"/>.</summary>
    public static IChatClient Create(HttpClient http, string model, string apiKey) =>
        Create(http, new Uri(http.BaseAddress + "v1"), model, apiKey);

    private static IChatClient Create(HttpClient http, Uri endpoint, string model, string apiKey)
    {
        var options = new OpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(http),
            Endpoint = endpoint,
            // A failure should fail the test at once, not after the client's retries.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        return new OpenAIClient(new ApiKeyCredential(apiKey), options).GetChatClient(model).AsIChatClient();
    }
}
