using System.Threading.RateLimiting;
using Eagle.Samples.WebApi.Endpoints;
using Eagle.Samples.WebApi.Mapping;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.WebApi.Security;

/// <summary>
/// What <see cref="ServerOptions"/> turns on, with ASP.NET Core's own pieces: Kestrel's request body limit, an
/// authentication scheme for API keys, the rate limiter per key, CORS for the configured origins only. Everything
/// reads the configuration when first used (not when this runs), so tests and deployments may set it however
/// configuration allows.
/// </summary>
internal static class ServerProtections
{
    public static IServiceCollection AddServerProtections(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ServerOptions>().Bind(configuration.GetSection(ServerOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ServerOptions>, ServerOptionsValidator>();
        // Kestrel is built with the app, before options are validated (at start, where a bad value ends the process
        // with its message), so it reads the raw value and keeps its own default for an invalid one.
        services.AddOptions<KestrelServerOptions>().Configure(kestrel =>
        {
            long limit = configuration.GetValue($"{ServerOptions.Section}:{nameof(ServerOptions.MaxRequestBodyBytes)}", new ServerOptions().MaxRequestBodyBytes);
            if (limit >= 1) kestrel.Limits.MaxRequestBodySize = limit;
        });

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();

        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<ServerOptions>>((cors, server) =>
        {
            if (server.Value.CorsOrigins.Count > 0)
                cors.AddDefaultPolicy(policy => policy.WithOrigins([.. server.Value.CorsOrigins])
                    .WithMethods("GET", "POST").WithHeaders("Authorization", "Content-Type"));
        });

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(PerClient);
            limiter.OnRejected = (rejected, _) =>
            {
                var error = new RequestError(StatusCodes.Status429TooManyRequests,
                    "Too many requests for this API key (Server:RequestsPerMinute); retry later.", null, "rate_limit_exceeded");
                return new ValueTask(ErrorWriter.WriteAsync(rejected.HttpContext.Response,
                    rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? error.WithRetryAfter(retry) : error));
            };
        });
        return services;
    }

    /// <summary>CORS, then who the caller is, then whether they may (401 before they count against a rate limit).</summary>
    public static WebApplication UseServerProtections(this WebApplication app)
    {
        app.UseCors();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>A fixed window per API key (per client address without keys) on <c>/v1</c>; nothing when no limit is set.</summary>
    private static RateLimitPartition<string> PerClient(HttpContext context)
    {
        int perMinute = context.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value.RequestsPerMinute;
        if (perMinute == 0 || !context.Request.Path.StartsWithSegments("/v1")) return RateLimitPartition.GetNoLimiter("");
        string client = context.User.Identity?.Name is { } name && name != ApiKeyAuthenticationHandler.Anonymous
            ? name
            : context.Connection.RemoteIpAddress?.ToString() ?? "";
        return RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = perMinute,
            Window = TimeSpan.FromMinutes(1),
        });
    }

    private sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
    {
        public ValidateOptionsResult Validate(string? name, ServerOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }

    private static RequestError WithRetryAfter(this RequestError error, TimeSpan retryAfter) =>
        new(error.StatusCode, error.Message, error.Param, error.Code) { RetryAfter = retryAfter };
}
