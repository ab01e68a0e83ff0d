using Eagle.AI.Testing;
using Microsoft.SemanticKernel;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>The test classes that share <see cref="TinyKernelFixture"/>'s kernel (and so run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class TinyKernelCollection : ICollectionFixture<TinyKernelFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Tiny kernel";
}

/// <summary>
/// One kernel over the tiny chat model (speculation on), registered with <c>AddEagleChatClient</c>, shared by the
/// test classes of <see cref="TinyKernelCollection"/>: loading the engine costs seconds. Tests take a <see cref="Kernel.Clone"/> (same services and engine, their own
/// plugins and filters). Disposing the kernel's service provider disposes the engine.
/// </summary>
public sealed class TinyKernelFixture : IAsyncLifetime
{
    /// <summary>The shared kernel; clone it before adding plugins or filters.</summary>
    public Kernel Kernel { get; } = Kernel.CreateBuilder().AddEagleChatClient(UseTinyChatModel).Build();

    /// <summary>The scripted answers and tool calls are far shorter; a prompt the model was not trained on fails fast instead of generating for minutes.</summary>
    public const int MaxOutputTokens = 64;

    /// <summary>Copies <see cref="TinyChatModel.Options"/> (speculative) into options being configured, capped at <see cref="MaxOutputTokens"/>.</summary>
    public static void UseTinyChatModel(EagleOptions o)
    {
        var t = TinyChatModel.Options();
        (o.ModelPath, o.DraftModelPath, o.ModelId, o.Device, o.DType, o.Tree) = (t.ModelPath, t.DraftModelPath, t.ModelId, t.Device, t.DType, t.Tree);
        o.MaxOutputTokens = MaxOutputTokens;
    }

    /// <summary>A clone of the shared kernel with a fresh <see cref="RecordingWeatherPlugin"/>.</summary>
    public (Kernel Kernel, RecordingWeatherPlugin Weather) WithWeatherPlugin()
    {
        var kernel = Kernel.Clone();
        var weather = new RecordingWeatherPlugin();
        kernel.Plugins.AddFromObject(weather, RecordingWeatherPlugin.PluginName);
        return (kernel, weather);
    }

    /// <inheritdoc/>
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (Kernel.Services is IAsyncDisposable services)
            await services.DisposeAsync();
    }
}
