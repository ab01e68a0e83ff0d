using Eagle.Samples.WebApi;
using Eagle.Samples.WebApi.Endpoints;

var builder = WebApplication.CreateBuilder(args);

// The model comes from the "Eagle" section (appsettings.json, environment, command line). No UseFunctionInvocation():
// tool calls go back to the HTTP client, which runs its own tools.
builder.Services.AddEagleChatClient(builder.Configuration.GetSection("Eagle"));
builder.Services.AddSingleton<ServedModel>();
builder.Services.AddHealthChecks().AddCheck<ChatClientHealthCheck>("chat-client");

var app = builder.Build();
app.UseExceptionHandler(errors => errors.Run(ErrorWriter.UnexpectedAsync));
app.MapChatCompletions();
app.MapModels();
app.MapHealthChecks("/health");
app.MapFallback(ErrorWriter.UnknownUrlAsync);
app.Run();

/// <summary>The entry point; public so tests can host the app with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
