using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;

namespace Eagle.Samples.Agents;

/// <summary>Builds the weather agent: the kernel's Eagle chat client, its plugins' functions as tools, and instructions.</summary>
public static class WeatherAgent
{
    /// <summary>The agent's name, as reported in its responses.</summary>
    public const string Name = "WeatherAgent";

    /// <summary>The agent's system instructions.</summary>
    public const string Instructions = "Answer the user's questions, using the tools you have when they help.";

    /// <summary>
    /// An agent over the kernel's <see cref="IChatClient"/> (registered by <c>AddEagleChatClient</c>) whose tools are
    /// every function of every plugin in <paramref name="kernel"/>. The client already invokes functions (Semantic
    /// Kernel's function-invoking middleware, which Agent Framework recognises and does not wrap again), and the
    /// functions run with <paramref name="kernel"/>, so kernel filters and services apply to them.
    /// </summary>
    /// <param name="kernel">A kernel with an Eagle chat client and the plugins to offer.</param>
    /// <returns>The agent.</returns>
    public static ChatClientAgent Create(Kernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        List<AITool> tools = [.. kernel.Plugins.SelectMany(plugin => plugin.AsAIFunctions(kernel))];
        return new ChatClientAgent(
            kernel.GetRequiredService<IChatClient>(),
            instructions: Instructions,
            name: Name,
            description: "Answers questions about the weather by calling a weather plugin.",
            tools: tools,
            loggerFactory: kernel.LoggerFactory,
            services: kernel.Services);
    }
}
