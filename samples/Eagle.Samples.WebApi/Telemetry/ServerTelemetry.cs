using Eagle.AI;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Eagle.Samples.WebApi.Telemetry;

/// <summary>
/// OpenTelemetry for the server: the engine's meter (<see cref="EagleTelemetry.MeterName"/>) and ASP.NET Core's HTTP
/// meters, scraped at <c>/metrics</c> in Prometheus format; with an OTLP endpoint, the same metrics and the traces
/// (HTTP request → engine request → queue / prefill / decode) pushed to it.
/// </summary>
internal static class ServerTelemetry
{
    private const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    private const string MetricsPolicy = "metrics";

    public static IServiceCollection AddServerTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.Section));
        // Our key is another spelling of the standard variable, which the OTLP exporter reads from configuration.
        string? endpoint = configuration[$"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpEndpoint)}"];
        if (!string.IsNullOrWhiteSpace(endpoint) && configuration[OtlpEndpointKey] is null) configuration[OtlpEndpointKey] = endpoint;
        bool otlp = !string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]);

        var telemetry = services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(EagleTelemetry.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddPrometheusExporter();
            if (otlp) metrics.AddOtlpExporter();
        });
        // Without an exporter for them, spans would only cost: nothing listens to the engine's activity source then.
        if (otlp)
            telemetry.WithTracing(tracing => tracing.AddSource(EagleTelemetry.ActivitySourceName, "Microsoft.AspNetCore").AddOtlpExporter());

        // Decided per request, so the setting can come from anywhere configuration can.
        services.AddAuthorizationBuilder().AddPolicy(MetricsPolicy, policy => policy.RequireAssertion(context =>
            context.Resource is not HttpContext http
            || !http.RequestServices.GetRequiredService<IOptions<TelemetryOptions>>().Value.MetricsRequireApiKey
            || context.User.Identity?.IsAuthenticated == true));
        return services;
    }

    /// <summary>Maps <c>/metrics</c>, behind the API key only when <see cref="TelemetryOptions.MetricsRequireApiKey"/> says so.</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(TelemetryOptions.MetricsPath).RequireAuthorization(MetricsPolicy);
        return app;
    }
}
