using Eagle.Samples.WebApi.Endpoints;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Eagle.Samples.WebApi;

/// <summary>
/// Healthy once the chat client (with Eagle: the loaded model) can be had; unhealthy, with the reason, when it cannot
/// (e.g. the model folder is wrong). The first check loads the model if <c>Warmup</c> has not; a failed load is not
/// tried again (see <see cref="ServedModel"/>).
/// </summary>
internal sealed class ChatClientHealthCheck(ServedModel served) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return Task.FromResult(HealthCheckResult.Healthy($"Serving {served.Id}."));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var cause = e.InnerException ?? e;
            return Task.FromResult(HealthCheckResult.Unhealthy("The chat client cannot be created: " + cause.Message, cause));
        }
    }
}
