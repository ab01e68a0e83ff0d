using System.Runtime.CompilerServices;
using TorchSharp;

namespace Eagle.AI.Engine.Tests;

internal static class TestSetup
{
    /// <summary>
    /// xunit already runs test classes in parallel on every core; libtorch's own intra-op threads on top of that only
    /// oversubscribe the machine (tiny test tensors gain nothing from them), so tests use one torch thread each.
    /// </summary>
    [ModuleInitializer]
    internal static void OneTorchThread() => torch.set_num_threads(1);
}
