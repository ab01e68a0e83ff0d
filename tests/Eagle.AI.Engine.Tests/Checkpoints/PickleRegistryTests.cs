using Eagle.AI.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>
/// Razorvine.Pickle's constructor table is process-wide; these tests touch TorchSharp.PyBridge's unpickler too, so they
/// run alone, after the parallel tests (concurrent use of both unpicklers is documented as unsupported).
/// </summary>
[CollectionDefinition(nameof(PickleRegistryTests), DisableParallelization = true)]
public sealed class PickleRegistryCollection;

[Collection(nameof(PickleRegistryTests))]
public sealed class PickleRegistryTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void OurReader_AndPyBridgeLoadPy_WorkInEitherOrder()
    {
        string path = dir.File("pytorch_model.bin");
        torch.manual_seed(3);
        using var saved = torch.nn.Linear(3, 2);
        saved.save_py(path);

        for (int round = 0; round < 2; round++)
        {
            using (var source = Checkpoint.Open(path))
            using (var loaded = source.Load("weight", torch.ScalarType.Float32, torch.CPU))
                Fixtures.AssertExact(saved.weight!, loaded);

            using var viaPyBridge = torch.nn.Linear(3, 2);
            viaPyBridge.load_py(path);
            Fixtures.AssertExact(saved.weight!, viaPyBridge.weight!);
        }
    }
}
