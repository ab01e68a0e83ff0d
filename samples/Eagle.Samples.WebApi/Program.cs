using Eagle.AI;
using Eagle.Samples.WebApi;
using Eagle.Samples.WebApi.Endpoints;
using Eagle.Samples.WebApi.Security;
using Eagle.Samples.WebApi.Telemetry;

// appsettings.json is read from beside the app, so the server can be started from any folder; relative model paths
// are resolved against that folder, the current directory (ModelPaths).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// The model comes from the "Eagle" section (appsettings.json, environment, command line). No UseFunctionInvocation():
// tool calls go back to the HTTP client, which runs its own tools.
builder.Services.AddEagleChatClient(builder.Configuration.GetSection("Eagle"));
builder.Services.PostConfigure<EagleOptions>(ModelPaths.Resolve);
builder.Services.AddSingleton<ServedModel>();
builder.Services.AddHealthChecks().AddCheck<ChatClientHealthCheck>("chat-client");
// The "Server" section: API keys, limits, timeouts, keep-alive, CORS, rate limits.
builder.Services.AddServerProtections(builder.Configuration);
// The "Telemetry" section: /metrics (Prometheus) always, OTLP when an endpoint is configured.
builder.Services.AddServerTelemetry(builder.Configuration);

var app = builder.Build();
app.UseExceptionHandler(errors => errors.Run(ErrorWriter.UnexpectedAsync));
app.UseServerProtections();
app.MapChatCompletions().RequireAuthorization();
app.MapModels().RequireAuthorization();
app.MapHealthChecks("/health");
app.MapMetrics();
app.MapFallback(ErrorWriter.UnknownUrlAsync);

try
{
    await app.StartAsync().ConfigureAwait(false);
}
catch (Exception e)
{
    return StartupFailure.Report(e);
}
await app.WaitForShutdownAsync().ConfigureAwait(false);
return 0;

/// <summary>The entry point; public so tests can host the app with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
