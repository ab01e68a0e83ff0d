using System.Text.Json.Serialization;

namespace Eagle.Samples.WebApi.Contracts;

/// <summary>
/// Source-generated JSON for the wire types: snake_case names, nulls left out unless a type says OpenAI writes them
/// (<c>content</c>, <c>finish_reason</c>, <c>param</c>, <c>code</c>), and names matched case-sensitively, as OpenAI does.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletion))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class OpenAIJsonContext : JsonSerializerContext;
