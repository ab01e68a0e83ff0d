using System.Text.Json;
using Eagle.Samples.WebApi.Contracts;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.WebApi.Mapping;

/// <summary>
/// The request's generation fields → <see cref="ChatOptions"/>. Ranges OpenAI documents are checked here; anything the
/// model client itself refuses comes back as an <see cref="ArgumentException"/> that <see cref="ClientErrorMapper"/> maps.
/// The answer budget is the server's too: a request without one gets <see cref="ServerOptions.DefaultMaxTokens"/> (not
/// the whole context, which would hold a batch slot for minutes), and one may ask for at most <see cref="ServerOptions.MaxTokens"/>.
/// </summary>
internal static class OptionsMapper
{
    /// <summary>OpenAI allows at most four stop sequences.</summary>
    private const int MaxStopSequences = 4;

    public static ChatOptions ToChatOptions(ChatCompletionRequest request, string modelId, ServerOptions server)
    {
        if (request.Temperature is { } t && !(t >= 0f && t <= 2f))
            throw RequestError.Invalid("temperature", $"Invalid 'temperature' {t}: it must be between 0 and 2.");
        if (request.TopP is { } p && !(p >= 0f && p <= 1f))
            throw RequestError.Invalid("top_p", $"Invalid 'top_p' {p}: it must be between 0 and 1.");
        CheckPenalty(request.FrequencyPenalty, "frequency_penalty");
        CheckPenalty(request.PresencePenalty, "presence_penalty");
        if (request.N is { } n && n != 1)
            throw RequestError.Invalid("n", $"Invalid 'n' {n}: this server returns one choice per request.", "unsupported_value");
        if (request.MaxCompletionTokens is < 1)
            throw RequestError.Invalid("max_completion_tokens", $"Invalid 'max_completion_tokens' {request.MaxCompletionTokens}: it must be at least 1.");
        if (request.MaxTokens is < 1)
            throw RequestError.Invalid("max_tokens", $"Invalid 'max_tokens' {request.MaxTokens}: it must be at least 1.");
        CheckCap(request.MaxCompletionTokens, "max_completion_tokens", server.MaxTokens);
        CheckCap(request.MaxTokens, "max_tokens", server.MaxTokens);
        if (request.StreamOptions is not null && request.Stream != true)
            throw RequestError.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.");

        var tools = ToolMapper.ToTools(request.Tools);
        return new ChatOptions
        {
            ModelId = modelId,
            Temperature = request.Temperature,
            TopP = request.TopP,
            // max_tokens is the deprecated spelling; the newer field wins when both are sent.
            MaxOutputTokens = request.MaxCompletionTokens ?? request.MaxTokens ?? (server.DefaultMaxTokens > 0 ? server.DefaultMaxTokens : null),
            StopSequences = ToStopSequences(request.Stop),
            Seed = request.Seed,
            FrequencyPenalty = request.FrequencyPenalty,
            PresencePenalty = request.PresencePenalty,
            Tools = tools,
            ToolMode = ToolMapper.ToToolMode(request.ToolChoice, tools is { Count: > 0 }),
            AllowMultipleToolCalls = request.ParallelToolCalls,
            ResponseFormat = ResponseFormatMapper.ToResponseFormat(request.ResponseFormat),
        };
    }

    private static void CheckCap(int? value, string param, int cap)
    {
        if (value is { } v && cap > 0 && v > cap)
            throw RequestError.Invalid(param, $"Invalid '{param}' {v}: this server allows at most {cap} (Server:MaxTokens).");
    }

    private static void CheckPenalty(float? value, string param)
    {
        if (value is { } v && !(v >= -2f && v <= 2f))
            throw RequestError.Invalid(param, $"Invalid '{param}' {v}: it must be between -2 and 2.");
    }

    /// <summary><c>stop</c> is a string or an array of up to four non-empty strings.</summary>
    private static List<string>? ToStopSequences(JsonElement? stop)
    {
        switch (stop)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return null;
            case { ValueKind: JsonValueKind.String } one:
                return [NonEmpty(one, "stop")];
            case { ValueKind: JsonValueKind.Array } many:
                var result = new List<string>();
                foreach (var item in many.EnumerateArray())
                {
                    string at = $"stop[{result.Count}]";
                    if (item.ValueKind != JsonValueKind.String) throw RequestError.Invalid(at, $"'{at}' must be a string.", "invalid_type");
                    result.Add(NonEmpty(item, at));
                }
                if (result.Count > MaxStopSequences)
                    throw RequestError.Invalid("stop", $"'stop' has {result.Count} sequences; at most {MaxStopSequences} are allowed.");
                return result.Count > 0 ? result : null;
            default:
                throw RequestError.Invalid("stop", "'stop' must be a string or an array of strings.", "invalid_type");
        }
    }

    private static string NonEmpty(JsonElement value, string param) =>
        value.GetString() is { Length: > 0 } s ? s : throw RequestError.Invalid(param, $"'{param}' must not be empty.");
}
