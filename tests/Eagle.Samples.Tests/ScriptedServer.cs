using Eagle.AI;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.Tests;

/// <summary>The WebApi sample with <see cref="ScriptedChatClient"/> in place of the engine, for HTTP-shape tests.</summary>
public sealed class ScriptedServer : WebApplicationFactory<Program>
{
    internal ScriptedChatClient Client { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Eagle:Warmup", "false");
        builder.ConfigureTestServices(services =>
        {
            // The engine is never built here, so its options need no real model folder.
            services.RemoveAll<IValidateOptions<EagleOptions>>();
            services.RemoveAll<IChatClient>();
            services.AddSingleton<IChatClient>(Client);
        });
    }
}
