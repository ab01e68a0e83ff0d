using Eagle.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Microsoft.SemanticKernel;

/// <summary>
/// Adds the local LLaMA-3 EAGLE chat client to a Semantic Kernel, the way SK's own connectors do: the
/// <see cref="IChatClient"/> (with Semantic Kernel's function-invoking middleware, so
/// <c>FunctionChoiceBehavior.Auto()</c> calls kernel plugins and runs auto-function-invocation filters) and the same
/// pipeline as an <see cref="IChatCompletionService"/>, so code that asks the kernel for either gets one model.
/// </summary>
/// <remarks>
/// Built on <see cref="EagleServiceCollectionExtensions.AddEagleChatClient(IServiceCollection, Action{EagleOptions})"/>:
/// one <see cref="EagleEngine"/> (the weights) per registration, <see cref="EagleOptions"/> validated with messages
/// naming the option, the model loaded at first use. With a <c>serviceId</c> every service is keyed by it (and the
/// options are named after it), so <c>PromptExecutionSettings.ServiceId</c> selects it among several models. The
/// service provider that owns the engine is the one the kernel builder builds; dispose it (<c>kernel.Services</c>) to
/// release the model. With <see cref="EagleOptions.Endpoint"/> the kernel's chat client is an OpenAI-compatible
/// server's instead (vLLM, SGLang), with the same middleware and plugins.
/// </remarks>
public static class EagleKernelBuilderExtensions
{
    /// <summary>Adds the Eagle chat client with options set in code.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configure">Sets the options: at least <see cref="EagleOptions.ModelPath"/>, or <see cref="EagleOptions.Endpoint"/> and <see cref="EagleOptions.ModelId"/> for a remote server.</param>
    /// <param name="serviceId">A key for the services, or null for the default (unkeyed) ones.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configure"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="serviceId"/> is empty or white space.</exception>
    public static IKernelBuilder AddEagleChatClient(this IKernelBuilder builder, Action<EagleOptions> configure, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        ThrowIfBlank(serviceId);
        var chatClient = serviceId is null
            ? builder.Services.AddEagleChatClient(configure)
            : builder.Services.AddKeyedEagleChatClient(serviceId, configure);
        return Complete(builder, chatClient, serviceId);
    }

    /// <summary>Adds the Eagle chat client with options bound from configuration (e.g. <c>configuration.GetSection("Eagle")</c>).</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configuration">A section whose keys are <see cref="EagleOptions"/> property names.</param>
    /// <param name="serviceId">A key for the services, or null for the default (unkeyed) ones.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configuration"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="serviceId"/> is empty or white space.</exception>
    public static IKernelBuilder AddEagleChatClient(this IKernelBuilder builder, IConfiguration configuration, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        ThrowIfBlank(serviceId);
        var chatClient = serviceId is null
            ? builder.Services.AddEagleChatClient(configuration)
            : builder.Services.AddKeyedEagleChatClient(serviceId, configuration);
        return Complete(builder, chatClient, serviceId);
    }

    // A blank key would register services no PromptExecutionSettings.ServiceId can select (SK treats blank as "any").
    private static void ThrowIfBlank(string? serviceId)
    {
        if (serviceId is not null && string.IsNullOrWhiteSpace(serviceId))
            throw new ArgumentException("serviceId must be null (the default service) or a non-blank key.", nameof(serviceId));
    }

    private static IKernelBuilder Complete(IKernelBuilder builder, ChatClientBuilder chatClient, string? serviceId)
    {
        // The logger factory comes from the container when the pipeline is built (null here means "resolve it").
        chatClient.UseKernelFunctionInvocation();

        // The completion service wraps the registered pipeline rather than building a second one, so both views share
        // the function invocation, the client instance and the engine.
        if (serviceId is null)
            builder.Services.AddSingleton(sp => sp.GetRequiredService<IChatClient>().AsChatCompletionService(sp));
        else
            builder.Services.AddKeyedSingleton(serviceId, (sp, key) => sp.GetRequiredKeyedService<IChatClient>(key).AsChatCompletionService(sp));
        return builder;
    }
}
