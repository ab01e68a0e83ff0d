using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Eagle.Samples.Tests;

/// <summary>The official OpenAI .NET client, as an <see cref="IChatClient"/>, talking to a test server in memory.</summary>
internal static class OpenAIClients
{
    public static IChatClient Create(WebApplicationFactory<Program> server, string model)
    {
        var options = new OpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(server.CreateClient()),
            Endpoint = new Uri(server.Server.BaseAddress + "v1"),
            // A failure should fail the test at once, not after the client's retries.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        return new OpenAIClient(new ApiKeyCredential("not-checked"), options).GetChatClient(model).AsIChatClient();
    }
}
