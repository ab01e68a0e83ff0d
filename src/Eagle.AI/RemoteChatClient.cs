using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenAI;

namespace Eagle.AI;

/// <summary>
/// Remote mode (<see cref="EagleOptions.Endpoint"/>): the <see cref="IChatClient"/> of an OpenAI-compatible server
/// (vLLM, SGLang, the WebApi sample), through the maintained <c>Microsoft.Extensions.AI.OpenAI</c> adapter over the
/// official OpenAI client, on an <see cref="HttpClient"/> from <see cref="IHttpClientFactory"/> with the standard
/// resilience handler. Its errors become <see cref="ChatServerException"/>s (<see cref="ChatServerErrors"/>).
/// </summary>
internal static class RemoteChatClient
{
    // vLLM's documentation uses this placeholder for servers started without --api-key; the OpenAI client needs a key.
    private const string NoApiKey = "EMPTY";

    /// <summary>The named <see cref="HttpClient"/> of one registration (its options name).</summary>
    public static string HttpClientName(string optionsName) => optionsName.Length == 0 ? "Eagle.AI.Remote" : "Eagle.AI.Remote:" + optionsName;

    /// <summary>
    /// Registers the named client. Retries and timeouts are the standard resilience handler's (Polly inside the
    /// <see cref="HttpClient"/>: exponential back-off with jitter, <c>Retry-After</c> honoured, a circuit breaker, and
    /// telemetry), configured from <see cref="EagleOptions.RequestTimeout"/>. The OpenAI client's own retry policy is
    /// turned off where the client is made: it runs above the handler, so both on would multiply the attempts (up to
    /// 4 × 4 requests for one failing call). The handler is preferred because it is the .NET-wide standard (the same
    /// knobs, metrics and logs as the app's other HTTP clients). Only whole requests are retried: once a stream's
    /// headers have arrived, a failure ends the stream with a <see cref="ChatServerException"/>, never a second answer.
    /// </summary>
    public static void AddHttpClient(IServiceCollection services, string optionsName)
    {
        // Once per options name: registering the same client twice would stack two handlers retrying each other.
        if (services.Any(d => d.ServiceType == typeof(HttpClientRegistered) && d.ImplementationInstance is HttpClientRegistered r && r.OptionsName == optionsName))
            return;
        services.AddSingleton(new HttpClientRegistered(optionsName));
        services.AddHttpClient(HttpClientName(optionsName))
            // The resilience handler's timeouts govern; HttpClient's own 100 s default would cut long answers short.
            .ConfigureHttpClient(http => http.Timeout = Timeout.InfiniteTimeSpan)
            .AddStandardResilienceHandler()
            .Configure((resilience, sp) => ConfigureResilience(resilience, UnvalidatedOptions(sp, optionsName).RequestTimeout));
    }

    // The resilience options are validated when the host starts, like EagleOptions: reading the timeout through
    // IOptionsMonitor would run EagleOptions' validation inside theirs and report a bad option twice.
    private static EagleOptions UnvalidatedOptions(IServiceProvider services, string optionsName) =>
        new OptionsFactory<EagleOptions>(services.GetServices<IConfigureOptions<EagleOptions>>(), services.GetServices<IPostConfigureOptions<EagleOptions>>())
            .Create(optionsName);

    /// <summary>
    /// The standard handler's defaults (10 s an attempt, 30 s in all) suit short API calls, not generation: a
    /// non-streamed answer's headers come only when the whole answer is done. An attempt gets the request timeout, the
    /// whole call room for every attempt and the back-off between them.
    /// </summary>
    internal static void ConfigureResilience(HttpStandardResilienceOptions resilience, TimeSpan requestTimeout)
    {
        // Out of range, EagleOptions' own validation names it; the handler's options stay valid meanwhile.
        requestTimeout = TimeSpan.FromTicks(Math.Clamp(requestTimeout.Ticks, TimeSpan.TicksPerSecond, TimeSpan.TicksPerHour));
        resilience.AttemptTimeout.Timeout = requestTimeout;
        resilience.TotalRequestTimeout.Timeout = requestTimeout * (resilience.Retry.MaxRetryAttempts + 1) + TimeSpan.FromMinutes(1);
        // The options' validation wants the breaker's sampling window at least twice the attempt timeout.
        resilience.CircuitBreaker.SamplingDuration = requestTimeout * 2;
    }

    /// <summary>Marks the options names whose HTTP client is registered.</summary>
    private sealed record HttpClientRegistered(string OptionsName);

    /// <summary>The remote client for validated remote-mode options.</summary>
    public static IChatClient Create(EagleOptions options, IHttpClientFactory httpClients, string optionsName, ILoggerFactory? loggerFactory)
    {
        var endpoint = options.Endpoint!;
        var logger = loggerFactory?.CreateLogger(typeof(RemoteChatClient).FullName!);
        if (logger is not null)
        {
            Log.RemoteServer(logger, endpoint.OriginalString, options.ModelId!);
            if (IgnoredOptions(options) is { Count: > 0 } ignored)
                Log.IgnoredRemotely(logger, string.Join(", ", ignored));
        }
        var client = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? NoApiKey : options.ApiKey), new OpenAIClientOptions
        {
            Endpoint = endpoint,
            Transport = new HttpClientPipelineTransport(httpClients.CreateClient(HttpClientName(optionsName))),
            // Retries are the resilience handler's (see AddHttpClient).
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // Per attempt; on a stream it bounds each read, so a server that stalls mid-answer ends the stream.
            NetworkTimeout = options.RequestTimeout,
        });
        var builder = client.GetChatClient(options.ModelId).AsIChatClient().AsBuilder()
            .Use(inner => new ChatServerErrors(inner, endpoint, options.RequestTimeout));
        if (options.MaxOutputTokens is not null || options.Temperature is not null || options.TopP is not null)
        {
            // The request defaults, as the local engine applies them: only where the request leaves the value unset.
            builder.ConfigureOptions(chat =>
            {
                chat.MaxOutputTokens ??= options.MaxOutputTokens;
                chat.Temperature ??= options.Temperature;
                chat.TopP ??= options.TopP;
            });
        }
        return builder.Build();
    }

    /// <summary>The local-engine options set to other than their defaults, which remote mode ignores.</summary>
    internal static List<string> IgnoredOptions(EagleOptions o)
    {
        var d = new EagleOptions();
        var ignored = new List<string>();
        void Check(bool differs, string name)
        {
            if (differs) ignored.Add(name);
        }
        Check(!string.Equals(o.Device, d.Device, StringComparison.OrdinalIgnoreCase), nameof(o.Device));
        Check(!string.Equals(o.DType, d.DType, StringComparison.OrdinalIgnoreCase), nameof(o.DType));
        Check(!string.IsNullOrWhiteSpace(o.DraftDevice), nameof(o.DraftDevice));
        Check(!string.IsNullOrWhiteSpace(o.LayerPlacement), nameof(o.LayerPlacement));
        Check(o.MaxContextTokens != d.MaxContextTokens, nameof(o.MaxContextTokens));
        Check(o.MaxBatchSize != d.MaxBatchSize, nameof(o.MaxBatchSize));
        Check(o.MaxQueuedRequests != d.MaxQueuedRequests, nameof(o.MaxQueuedRequests));
        Check(o.PrefillChunkTokens != d.PrefillChunkTokens, nameof(o.PrefillChunkTokens));
        Check(o.PrefixCacheTokens is not null, nameof(o.PrefixCacheTokens));
        Check(o.Tree is not null, nameof(o.Tree));
        Check(o.Speculative != d.Speculative, nameof(o.Speculative));
        Check(o.Warmup != d.Warmup, nameof(o.Warmup));
        Check(o.TopK is not null, nameof(o.TopK));
        return ignored;
    }
}
