using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.Options;

namespace Eagle.AI;

/// <summary>
/// Checks <see cref="EagleOptions"/> before anything is loaded; every message names the option and the offending path or
/// value. With <see cref="EagleOptions.Endpoint"/> (remote mode) only what remote mode uses is checked, and the model
/// folders are errors. Only the spelling of <see cref="EagleOptions.Device"/> is checked here: whether CUDA is really there is known
/// once the runtime loads (<see cref="Engine.Runtime.TorchRuntime.ParseDevice"/> then says how to get it).
/// </summary>
internal sealed class EagleOptionsValidator : IValidateOptions<EagleOptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, EagleOptions options)
    {
        var errors = Errors(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every problem (for use without dependency injection).</summary>
    public static void ThrowIfInvalid(EagleOptions options)
    {
        var errors = Errors(options).ToList();
        if (errors.Count > 0)
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(EagleOptions), errors);
    }

    private static IEnumerable<string> Errors(EagleOptions o) =>
        (o.IsRemote ? RemoteErrors(o) : LocalErrors(o)).Concat(RequestDefaultErrors(o));

    // Remote mode: what the server is and how to reach it. The local engine's options are ignored there (EagleOptions'
    // remarks), so they are not checked; the model folders are errors, because they say something else is wanted.
    private static IEnumerable<string> RemoteErrors(EagleOptions o)
    {
        var endpoint = o.Endpoint!;
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            yield return $"EagleOptions.Endpoint '{endpoint.OriginalString}' must be an absolute http or https URL, the API's base address (e.g. http://localhost:8000/v1).";
        if (!string.IsNullOrWhiteSpace(o.ModelPath))
            yield return $"EagleOptions.ModelPath '{o.ModelPath}' and EagleOptions.Endpoint '{endpoint.OriginalString}' are mutually exclusive: " +
                "set ModelPath to run the model in this process or Endpoint to use an OpenAI-compatible server, and leave the other empty.";
        if (!string.IsNullOrWhiteSpace(o.DraftModelPath))
            yield return $"EagleOptions.DraftModelPath '{o.DraftModelPath}' cannot be used with EagleOptions.Endpoint: the server loads its own draft head " +
                "(vLLM --speculative-config, SGLang --speculative-draft-model-path); leave DraftModelPath empty.";
        if (string.IsNullOrWhiteSpace(o.ModelId))
            yield return "EagleOptions.ModelId is required with EagleOptions.Endpoint: the name the server serves the model under (e.g. vLLM's --served-model-name).";
        if (o.RequestTimeout < TimeSpan.FromSeconds(1) || o.RequestTimeout > TimeSpan.FromHours(1))
            yield return $"EagleOptions.RequestTimeout {o.RequestTimeout} must be in [00:00:01, 01:00:00].";
    }

    // The generation defaults apply in both modes (remotely as request defaults).
    private static IEnumerable<string> RequestDefaultErrors(EagleOptions o)
    {
        if (o.MaxOutputTokens is < 1)
            yield return $"EagleOptions.MaxOutputTokens {o.MaxOutputTokens} must be at least 1.";
        foreach (var (option, value, rule) in SamplingOptions.OutOfRange(o.Temperature, o.TopP, o.TopK))
            yield return $"EagleOptions.{option} {value} {rule}.";
    }

    private static IEnumerable<string> LocalErrors(EagleOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.ModelPath))
            yield return "EagleOptions.ModelPath is required: the folder of a Hugging Face LLaMA-3 model (config.json, weights, tokenizer); " +
                "or set EagleOptions.Endpoint (and ModelId) to use an OpenAI-compatible server instead.";
        else if (!Directory.Exists(o.ModelPath))
            yield return $"EagleOptions.ModelPath '{o.ModelPath}' does not exist or is not a folder.";
        else
        {
            if (!File.Exists(Path.Combine(o.ModelPath, "config.json")))
                yield return $"EagleOptions.ModelPath '{o.ModelPath}' has no config.json.";
            if (Llama3Tokenizer.TryFind(o.ModelPath) is null)
                yield return $"EagleOptions.ModelPath '{o.ModelPath}' has no tokenizer: expected original/tokenizer.model, tokenizer.json or tokenizer.model.";
        }
        if (o.DraftModelPath is { } draft)
        {
            if (!Directory.Exists(draft))
                yield return $"EagleOptions.DraftModelPath '{draft}' does not exist or is not a folder.";
            else if (!File.Exists(Path.Combine(draft, "config.json")))
                yield return $"EagleOptions.DraftModelPath '{draft}' has no config.json.";
        }
        if (!TorchRuntime.IsDeviceSpelling(o.Device))
            yield return $"EagleOptions.Device '{o.Device}' is not one of auto, cpu, cuda or cuda:N.";
        if (o.DraftDevice is { } draftDevice && !TorchRuntime.IsDeviceSpelling(draftDevice))
            yield return $"EagleOptions.DraftDevice '{draftDevice}' is not one of auto, cpu, cuda or cuda:N.";
        if (PlacementError(o) is { } placement)
            yield return placement;
        if (!TorchRuntime.IsDTypeSpelling(o.DType))
            yield return $"EagleOptions.DType '{o.DType}' is not one of auto, float32, bfloat16 or float16.";
        if (o.MaxContextTokens < 2)
            yield return $"EagleOptions.MaxContextTokens {o.MaxContextTokens} must be at least 2 (a prompt token and an answer token).";
        if (o.MaxBatchSize is < 1 or > 256)
            yield return $"EagleOptions.MaxBatchSize {o.MaxBatchSize} must be in [1, 256].";
        if (o.MaxQueuedRequests is < 0 or > 100_000)
            yield return $"EagleOptions.MaxQueuedRequests {o.MaxQueuedRequests} must be in [0, 100000].";
        if (o.PrefixCacheTokens is < 0 or > 10_000_000)
            yield return $"EagleOptions.PrefixCacheTokens {o.PrefixCacheTokens} must be in [0, 10000000] (0 turns reuse off).";
        if (o.PrefillChunkTokens is < 16 or > 65536)
            yield return $"EagleOptions.PrefillChunkTokens {o.PrefillChunkTokens} must be in [16, 65536].";
        if (TreeError(o) is { } tree)
            yield return tree;
    }

    // The placement read as the load will read it (LayerPlacement.Check), devices spelled but not resolved.
    private static string? PlacementError(EagleOptions o)
    {
        if (o.LayerPlacement is not { } placement) return null;
        string home;
        try
        {
            home = LayerPlacement.Check(placement);
        }
        catch (FormatException e)
        {
            return $"EagleOptions.LayerPlacement '{placement}' is not valid: {e.Message}";
        }
        return o.Device is not null && !TorchRuntime.IsAuto(o.Device) && !home.Equals(o.Device.Trim(), StringComparison.OrdinalIgnoreCase)
            ? $"EagleOptions.LayerPlacement '{placement}' starts on another device than EagleOptions.Device '{o.Device}': " +
              "set Device to auto or to the first segment's device (the home of the embedding, lm_head and draft head)."
            : null;
    }

    private static string? TreeError(EagleOptions o)
    {
        try
        {
            o.Tree?.Validate();
            return null;
        }
        catch (ArgumentException e)
        {
            return $"EagleOptions.Tree: {e.Message}";
        }
    }
}
