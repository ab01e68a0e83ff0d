using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Endpoints;

/// <summary>
/// The one model this server serves: the chat client's <see cref="ChatClientMetadata.DefaultModelId"/> (for Eagle,
/// <c>EagleOptions.ModelId</c> or the model folder's name). Asking for it resolves the client, i.e. loads the model when
/// <c>Warmup</c> has not already.
/// </summary>
internal sealed class ServedModel(IServiceProvider services)
{
    // PublicationOnly: a failed model load is not remembered, so a later request (or /health) tries again.
    private readonly Lazy<string> id = new(() =>
        services.GetRequiredService<IChatClient>().GetService<ChatClientMetadata>()?.DefaultModelId ?? "default",
        LazyThreadSafetyMode.PublicationOnly);

    public string Id => id.Value;

    /// <summary>Unix seconds when the server started, reported as the model's <c>created</c>.</summary>
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
