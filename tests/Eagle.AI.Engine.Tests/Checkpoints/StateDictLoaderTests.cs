using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;

namespace Eagle.AI.Engine.Tests.Checkpoints;

public sealed class StateDictLoaderTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Keys: <c>proj.weight</c>, <c>proj.bias</c>, <c>head.weight</c>, buffer <c>running</c>.</summary>
    private sealed class Tiny : torch.nn.Module
    {
        private readonly Linear proj;
        private readonly Linear head;
        private readonly torch.Tensor running;

        public Tiny(int width = 3, torch.ScalarType dtype = torch.ScalarType.Float32) : base(nameof(Tiny))
        {
            proj = torch.nn.Linear(width, 4, dtype: dtype);
            head = torch.nn.Linear(4, 2, hasBias: false, dtype: dtype);
            running = torch.zeros(4, dtype: dtype);
            RegisterComponents();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                proj.Dispose();
                head.Dispose();
                running.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>Writes a checkpoint of a fresh, randomly initialised <see cref="Tiny"/> (plus extra tensors).</summary>
    private string Save(Tiny model, params (string Name, torch.Tensor Tensor)[] extra)
    {
        string path = dir.File($"ckpt-{Guid.NewGuid():N}.safetensors");
        var state = model.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value))
            .Concat(extra.Select(e => KeyValuePair.Create(e.Name, e.Tensor)));
        SafetensorsWriter.Write(path, state);
        return path;
    }

    private static Dictionary<string, torch.Tensor> Snapshot(torch.nn.Module m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    [Fact]
    public void LoadsEveryParameterAndBuffer_ReportingProgress()
    {
        using var saved = new Tiny();
        using (torch.no_grad())
        using (var half = 0.5.ToScalar()) saved.state_dict()["running"].fill_(half);
        string path = Save(saved);
        using var target = new Tiny();
        using var source = Checkpoint.Open(path);
        var calls = new List<(int Done, int Total)>();
        StateDictLoader.Load(target, source, progress: (done, total) => calls.Add((done, total)));
        var expected = saved.state_dict();
        foreach (var (name, tensor) in target.state_dict()) Fixtures.AssertExact(expected[name], tensor);
        Assert.Equal([(1, 4), (2, 4), (3, 4), (4, 4)], calls);
        Assert.True(target.named_parameters().All(p => p.parameter.requires_grad));
    }

    [Fact]
    public void ConvertsCheckpointDtypeToModuleDtype()
    {
        using var saved = new Tiny(dtype: torch.ScalarType.BFloat16);
        string path = Save(saved);
        using var target = new Tiny();
        using var source = Checkpoint.Open(path);
        StateDictLoader.Load(target, source);
        var expected = saved.state_dict();
        foreach (var (name, tensor) in target.state_dict())
        {
            Assert.Equal(torch.ScalarType.Float32, tensor.dtype);
            using var e = expected[name].to(torch.ScalarType.Float32);
            Fixtures.AssertExact(e, tensor);
        }
    }

    [Fact]
    public void Strict_MissingTensor_NamesItAndLeavesModuleUntouched()
    {
        using var saved = new Tiny();
        string path = dir.File("partial.safetensors");
        SafetensorsWriter.Write(path, saved.state_dict().Where(kv => kv.Key != "head.weight"));
        using var target = new Tiny();
        var before = Snapshot(target);
        using var source = Checkpoint.Open(path);
        Fixtures.AssertCheckpointError(() => StateDictLoader.Load(target, source), path, "head.weight", "missing");
        foreach (var (name, tensor) in target.state_dict()) Fixtures.AssertExact(before[name], tensor);
        Fixtures.DisposeAll(before.Values);
    }

    [Fact]
    public void NonStrict_MissingTensor_IsSkipped()
    {
        using var saved = new Tiny();
        string path = dir.File("partial.safetensors");
        SafetensorsWriter.Write(path, saved.state_dict().Where(kv => kv.Key != "head.weight"));
        using var target = new Tiny();
        using var headBefore = target.state_dict()["head.weight"].clone();
        using var source = Checkpoint.Open(path);
        StateDictLoader.Load(target, source, strict: false);
        Fixtures.AssertExact(headBefore, target.state_dict()["head.weight"]);
        Fixtures.AssertExact(saved.state_dict()["proj.weight"], target.state_dict()["proj.weight"]);
    }

    [Fact]
    public void Strict_UnexpectedTensor_NamesIt_UnlessIgnored()
    {
        using var saved = new Tiny();
        using var extra = Fixtures.Values([7], torch.ScalarType.Float32);
        string path = Save(saved, ("model.rotary_emb.inv_freq", extra));
        using var target = new Tiny();
        using var source = Checkpoint.Open(path);
        Fixtures.AssertCheckpointError(() => StateDictLoader.Load(target, source), path, "model.rotary_emb.inv_freq", "unexpected");

        StateDictLoader.Load(target, source, ignore: new HashSet<string> { "model.rotary_emb.inv_freq" });
        Fixtures.AssertExact(saved.state_dict()["proj.weight"], target.state_dict()["proj.weight"]);
        using var other = new Tiny();
        StateDictLoader.Load(other, source, strict: false);
        Fixtures.AssertExact(saved.state_dict()["head.weight"], other.state_dict()["head.weight"]);
    }

    [Fact]
    public void ShapeMismatch_NamesFileAndTensor_EvenWhenNotStrict()
    {
        using var saved = new Tiny(width: 5);
        string path = Save(saved);
        using var target = new Tiny(width: 3);
        using var source = Checkpoint.Open(path);
        var e = Fixtures.AssertCheckpointError(() => StateDictLoader.Load(target, source), path, "proj.weight", "shape [4, 5]");
        Assert.Contains("[4, 3]", e.Message, StringComparison.Ordinal);
        Fixtures.AssertCheckpointError(() => StateDictLoader.Load(target, source, strict: false), path, "proj.weight");
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void NonFiniteWeights_AreRefused_NamingFileAndTensor(double bad)
    {
        using var saved = new Tiny();
        using (torch.no_grad())
        using (var value = bad.ToScalar())
            saved.state_dict()["head.weight"][1, 2].fill_(value);
        string path = Save(saved);
        using var target = new Tiny();
        using var source = Checkpoint.Open(path);
        Fixtures.AssertCheckpointError(() => StateDictLoader.Load(target, source), path, "head.weight", "NaN or infinite");
    }

    [Fact]
    public void Rename_ReadsAModuleTensorFromAnotherKey()
    {
        using var saved = new Tiny();
        string path = dir.File("renamed.safetensors");
        // The checkpoint calls head.weight "lm_head.weight", as an EAGLE head borrowing the target's would.
        SafetensorsWriter.Write(path, saved.state_dict().Select(kv => kv.Key == "head.weight" ? KeyValuePair.Create("lm_head.weight", kv.Value) : kv));
        using var target = new Tiny();
        using var source = Checkpoint.Open(path);
        StateDictLoader.Load(target, source, rename: k => k == "head.weight" ? "lm_head.weight" : k);
        Fixtures.AssertExact(saved.state_dict()["head.weight"], target.state_dict()["head.weight"]);
    }

    [Fact]
    public void Rename_ToAbsentKey_IsReportedAsMissing()
    {
        using var saved = new Tiny();
        string path = Save(saved);
        using var target = new Tiny();
        using var source = Checkpoint.Open(path);
        var e = Fixtures.AssertCheckpointError(
            () => StateDictLoader.Load(target, source, rename: k => k == "head.weight" ? "model.embed_tokens.weight" : k),
            path, "model.embed_tokens.weight", "missing");
        Assert.Contains("head.weight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadsFromShardedCheckpoint()
    {
        using var saved = new Tiny();
        SafetensorsWriter.WriteSharded(dir.Path, saved.state_dict(), maxShardBytes: 32);
        Assert.True(Directory.GetFiles(dir.Path, "model-*.safetensors").Length > 1);
        using var target = new Tiny();
        using var source = Checkpoint.Open(dir.Path);
        StateDictLoader.Load(target, source);
        var expected = saved.state_dict();
        foreach (var (name, tensor) in target.state_dict()) Fixtures.AssertExact(expected[name], tensor);
    }
}
