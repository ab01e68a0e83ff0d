using System.Text.Json.Serialization;

namespace Eagle.Samples.WebApi.Contracts;

/// <summary>OpenAI's error body: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed record ErrorResponse(ErrorDetail Error);

/// <summary>What went wrong; <c>param</c> names the request field at fault, when there is one.</summary>
internal sealed record ErrorDetail
{
    public required string Message { get; init; }
    public required string Type { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Param { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Code { get; init; }
}
