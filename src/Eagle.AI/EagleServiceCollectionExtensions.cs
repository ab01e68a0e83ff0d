using System.Globalization;
using Eagle.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers an <see cref="EagleChatClient"/> as the <see cref="IChatClient"/>, over one <see cref="EagleEngine"/> singleton
/// per registration (the weights), and returns the <see cref="ChatClientBuilder"/> so middleware composes:
/// <c>services.AddEagleChatClient(o =&gt; o.ModelPath = dir).UseFunctionInvocation().UseOpenTelemetry().UseLogging();</c>.
/// <see cref="EagleOptions"/> are validated when the host starts (<c>ValidateOnStart</c>); the model loads at first use,
/// or at host start with <see cref="EagleOptions.Warmup"/>. The container disposes the engine.
/// </summary>
/// <remarks>
/// With <see cref="EagleOptions.Endpoint"/> set instead of <see cref="EagleOptions.ModelPath"/>, the same registration
/// gives the <see cref="IChatClient"/> of that OpenAI-compatible server (vLLM, SGLang, the WebApi sample; through
/// <c>Microsoft.Extensions.AI.OpenAI</c>, with the standard HTTP resilience handler) and no engine is loaded; the
/// returned builder and its middleware are the same. Server failures throw <see cref="ChatServerException"/>.
/// </remarks>
public static class EagleServiceCollectionExtensions
{
    /// <summary>Registers the chat client with options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options: at least <see cref="EagleOptions.ModelPath"/>, or <see cref="EagleOptions.Endpoint"/> and <see cref="EagleOptions.ModelId"/> for a remote server.</param>
    /// <returns>The builder of the registered <see cref="IChatClient"/>.</returns>
    public static ChatClientBuilder AddEagleChatClient(this IServiceCollection services, Action<EagleOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddOptions(services, Options.Options.DefaultName).Configure(configure);
        return AddClient(services, null, Options.Options.DefaultName);
    }

    /// <summary>Registers the chat client with options bound from configuration (e.g. <c>configuration.GetSection("Eagle")</c>).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">A section whose keys are <see cref="EagleOptions"/> property names.</param>
    /// <returns>The builder of the registered <see cref="IChatClient"/>.</returns>
    public static ChatClientBuilder AddEagleChatClient(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        AddOptions(services, Options.Options.DefaultName).Bind(configuration);
        return AddClient(services, null, Options.Options.DefaultName);
    }

    /// <summary>Registers a keyed chat client (and its own keyed engine) with options set in code; the options are named after the key.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="serviceKey">The key of the <see cref="IChatClient"/> and of its <see cref="EagleEngine"/>.</param>
    /// <param name="configure">Sets the options: at least <see cref="EagleOptions.ModelPath"/>, or <see cref="EagleOptions.Endpoint"/> and <see cref="EagleOptions.ModelId"/> for a remote server.</param>
    /// <returns>The builder of the registered keyed <see cref="IChatClient"/>.</returns>
    public static ChatClientBuilder AddKeyedEagleChatClient(this IServiceCollection services, object serviceKey, Action<EagleOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(serviceKey);
        ArgumentNullException.ThrowIfNull(configure);
        string name = OptionsName(serviceKey);
        AddOptions(services, name).Configure(configure);
        return AddClient(services, serviceKey, name);
    }

    /// <summary>Registers a keyed chat client (and its own keyed engine) with options bound from configuration; the options are named after the key.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="serviceKey">The key of the <see cref="IChatClient"/> and of its <see cref="EagleEngine"/>.</param>
    /// <param name="configuration">A section whose keys are <see cref="EagleOptions"/> property names.</param>
    /// <returns>The builder of the registered keyed <see cref="IChatClient"/>.</returns>
    public static ChatClientBuilder AddKeyedEagleChatClient(this IServiceCollection services, object serviceKey, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(serviceKey);
        ArgumentNullException.ThrowIfNull(configuration);
        string name = OptionsName(serviceKey);
        AddOptions(services, name).Bind(configuration);
        return AddClient(services, serviceKey, name);
    }

    private static string OptionsName(object serviceKey) => Convert.ToString(serviceKey, CultureInfo.InvariantCulture) ?? "";

    private static OptionsBuilder<EagleOptions> AddOptions(IServiceCollection services, string name)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EagleOptions>, EagleOptionsValidator>());
        return services.AddOptions<EagleOptions>(name).ValidateOnStart();
    }

    private static ChatClientBuilder AddClient(IServiceCollection services, object? serviceKey, string name)
    {
        services.AddSingleton<IHostedService>(sp => new EagleEngineWarmup(sp, serviceKey, name));
        // Whether the client is local or remote is known only once the options are bound (from configuration, at first
        // use), so both are registered and the factory chooses; the HTTP client costs nothing until it is asked for.
        RemoteChatClient.AddHttpClient(services, name);
        if (serviceKey is null)
        {
            services.TryAddSingleton(sp => CreateEngine(sp, name));
            return services.AddChatClient(sp => CreateClient(sp, name, () => sp.GetRequiredService<EagleEngine>()));
        }
        services.TryAddKeyedSingleton(serviceKey, (sp, _) => CreateEngine(sp, name));
        return services.AddKeyedChatClient(serviceKey, sp => CreateClient(sp, name, () => sp.GetRequiredKeyedService<EagleEngine>(serviceKey)));
    }

    private static IChatClient CreateClient(IServiceProvider services, string name, Func<EagleEngine> engine)
    {
        var options = services.GetRequiredService<IOptionsMonitor<EagleOptions>>().Get(name);
        return options.IsRemote
            ? RemoteChatClient.Create(options, services.GetRequiredService<IHttpClientFactory>(), name, services.GetService<ILoggerFactory>())
            : new EagleChatClient(engine(), services.GetService<ILogger<EagleChatClient>>());
    }

    private static EagleEngine CreateEngine(IServiceProvider services, string name) =>
        new(services.GetRequiredService<IOptionsMonitor<EagleOptions>>().Get(name), services.GetService<ILoggerFactory>(),
            services.GetService<IProgress<ModelLoadProgress>>());
}
