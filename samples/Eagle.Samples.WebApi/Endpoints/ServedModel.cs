using Eagle.Samples.WebApi.Mapping;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// The one model this server serves and its chat client: <see cref="ChatClientMetadata.DefaultModelId"/> (for Eagle,
/// <c>EagleOptions.ModelId</c> or the model folder's name). Asking for either resolves the client, i.e. loads the model
/// when <c>Warmup</c> has not already. A load that fails is logged once and remembered: every request then gets a 503
/// and <c>/health</c> reports it, instead of each of them loading the model again at full cost. Restart to retry.
/// </summary>
internal sealed partial class ServedModel
{
    private readonly Lazy<IChatClient> client;

    public ServedModel(IServiceProvider services, ILogger<ServedModel> logger) =>
        client = new(() => Load(services, logger), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The chat client.</summary>
    /// <exception cref="RequestError">The 503 of a model that failed to load (the failure is its inner exception).</exception>
    public IChatClient Client => client.Value;

    /// <summary>The served model's id.</summary>
    /// <exception cref="RequestError">The 503 of a model that failed to load.</exception>
    public string Id => Client.GetService<ChatClientMetadata>()?.DefaultModelId ?? "default";

    /// <summary>Unix seconds when the server started, reported as the model's <c>created</c>.</summary>
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static IChatClient Load(IServiceProvider services, ILogger logger)
    {
        try
        {
            return services.GetRequiredService<IChatClient>();
        }
        catch (Exception e)
        {
            LogLoadFailed(logger, e);
            throw new RequestError(StatusCodes.Status503ServiceUnavailable, "The model could not be loaded; see the server's log.", null, "model_not_loaded", e);
        }
    }

    [LoggerMessage(1, LogLevel.Error, "The model could not be loaded; requests get 503 until the server restarts")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception);
}
