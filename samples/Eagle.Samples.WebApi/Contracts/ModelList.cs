namespace Eagle.Samples.WebApi.Contracts;

/// <summary>The body of <c>GET /v1/models</c>.</summary>
internal sealed record ModelList
{
    public string Object { get; init; } = "list";
    public required IReadOnlyList<ModelCard> Data { get; init; }
}

/// <summary>A model this server serves.</summary>
internal sealed record ModelCard
{
    public required string Id { get; init; }
    public string Object { get; init; } = "model";
    /// <summary>Unix seconds; this server reports when it started.</summary>
    public required long Created { get; init; }
    public string OwnedBy { get; init; } = "eagle";
}
