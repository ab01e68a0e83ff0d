using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Eagle.AI;

/// <summary>
/// With <see cref="EagleOptions.Warmup"/>, resolves the engine when the host starts, so the model loads (and runs its
/// warm-up request) before the first request arrives instead of during it. Without it, the engine loads on first use.
/// </summary>
internal sealed class EagleEngineWarmup(IServiceProvider services, object? serviceKey, string optionsName) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<IOptionsMonitor<EagleOptions>>().Get(optionsName);
        // Remote mode loads nothing here: the server warms itself.
        if (options.Warmup && !options.IsRemote)
            _ = serviceKey is null ? services.GetRequiredService<EagleEngine>() : services.GetRequiredKeyedService<EagleEngine>(serviceKey);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
