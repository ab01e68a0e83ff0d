using Eagle.AI;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.Tests;

/// <summary>
/// The WebApi sample with <see cref="ScriptedChatClient"/> in place of the engine, for HTTP-shape tests: in memory as a
/// class fixture, or on a free loopback port through Kestrel (<see cref="OnLoopback"/>) with settings of the test's.
/// </summary>
public sealed class ScriptedServer : WebApplicationFactory<Program>
{
    private readonly string[] settings;

    public ScriptedServer()
        : this([])
    {
    }

    private ScriptedServer(string[] settings) => this.settings = settings;

    internal ScriptedChatClient Client { get; } = new();

    /// <summary>What the server logged, when it runs on loopback.</summary>
    internal LogCollector Logs { get; } = new();

    /// <summary>A started server on Kestrel (real HTTP on 127.0.0.1), configured with <c>Key=Value</c> settings.</summary>
    internal static ScriptedServer OnLoopback(params string[] settings)
    {
        var server = new ScriptedServer(settings);
        server.UseKestrel(0);
        server.StartServer();
        return server;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Eagle:Warmup", "false");
        // The scripted client writes as many words as the budget says; most tests want its echo.
        builder.UseSetting("Server:DefaultMaxTokens", "0");
        foreach (string setting in settings)
        {
            int eq = setting.IndexOf('=', StringComparison.Ordinal);
            builder.UseSetting(setting[..eq], setting[(eq + 1)..]);
        }
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        builder.ConfigureTestServices(services =>
        {
            // The engine is never built here, so its options need no real model folder.
            services.RemoveAll<IValidateOptions<EagleOptions>>();
            services.RemoveAll<IChatClient>();
            services.AddSingleton<IChatClient>(Client);
        });
    }
}
