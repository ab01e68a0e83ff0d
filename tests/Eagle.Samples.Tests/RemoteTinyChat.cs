using Eagle.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Eagle.Samples.Tests;

/// <summary>
/// The WebApi sample on the tiny chat model on a loopback port, requiring an API key: the server remote-mode clients
/// talk to, as they would to vLLM or SGLang. One for the remote-mode test classes (loading the model costs seconds).
/// </summary>
public sealed class RemoteTinyChat : IDisposable
{
    public const string ApiKey = "remote-mode-key";

    private readonly TinyChatServer server = TinyChatServer.OnLoopback($"Server:ApiKeys:0={ApiKey}");

    public RemoteTinyChat()
    {
        using var http = server.CreateClient();
        BaseAddress = http.BaseAddress!;
        Endpoint = new Uri(BaseAddress, "v1");
    }

    /// <summary>The server's root, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The OpenAI base address, <c>http://127.0.0.1:port/v1</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>
    /// A container with <c>AddEagleChatClient</c> in remote mode against <paramref name="endpoint"/> (default: this
    /// server) with the key, and whatever <paramref name="configure"/> and <paramref name="pipeline"/> add.
    /// </summary>
    public static ServiceProvider Container(Uri endpoint, Action<EagleOptions>? configure = null, Action<ChatClientBuilder>? pipeline = null)
    {
        var services = new ServiceCollection().AddLogging();
        var builder = services.AddEagleChatClient(o =>
        {
            o.Endpoint = endpoint;
            o.ModelId = TinyChatServer.ModelId;
            o.ApiKey = ApiKey;
            configure?.Invoke(o);
        });
        pipeline?.Invoke(builder);
        return services.BuildServiceProvider();
    }

    public void Dispose() => server.Dispose();
}

/// <summary>The remote-mode tests, which share one <see cref="RemoteTinyChat"/>.</summary>
[CollectionDefinition(Name)]
public sealed class RemoteTinyChatCollection : ICollectionFixture<RemoteTinyChat>
{
    public const string Name = "remote tiny chat";
}
