using System.Buffers.Binary;
using System.Diagnostics;
using Eagle.AI.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit.Abstractions;

namespace Eagle.AI.Engine.Tests.Checkpoints;

/// <summary>
/// Seeded random corruption of valid checkpoints: every mutated file must either load or raise
/// <see cref="CheckpointException"/>; any other exception (or a crash of the test host) is a bug.
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private byte[] ValidSafetensors()
    {
        string path = dir.File("seed.safetensors");
        using var a = Fixtures.Values([4, 4], torch.ScalarType.Float32);
        using var b = Fixtures.Values([6], torch.ScalarType.Float16, 1);
        using var c = Fixtures.Values([2, 3], torch.ScalarType.BFloat16, 2);
        using var s = Fixtures.Values([], torch.ScalarType.Float32, 3);
        SafetensorsWriter.Write(path, [new("model.a.weight", a), new("model.b", b), new("c", c), new("s", s)],
            new Dictionary<string, string> { ["format"] = "pt" });
        return File.ReadAllBytes(path);
    }

    /// <summary>One or two random corruptions: byte flips in header or data, truncation, or a rewritten length field.</summary>
    private static byte[] Mutate(byte[] valid, Random random)
    {
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);
        byte[] bytes = Corrupt((byte[])valid.Clone(), headerEnd, random);
        return random.Next(6) == 0 ? Corrupt(bytes, headerEnd, random) : bytes;
    }

    // headerEnd is the original file's; after a truncation the ranges are clipped to what is left.
    private static byte[] Corrupt(byte[] bytes, int headerEnd, Random random)
    {
        int header = Math.Min(headerEnd, bytes.Length);
        switch (random.Next(6))
        {
            case 0 when header > 8: // flips inside the JSON header
                for (int i = random.Next(1, 5); i > 0; i--)
                    bytes[random.Next(8, header)] ^= (byte)random.Next(1, 256);
                return bytes;
            case 1 when header > 8: // JSON punctuation or digits swapped in: keeps the header plausible more often
                for (int i = random.Next(1, 3); i > 0; i--)
                    bytes[random.Next(8, header)] = (byte)"0123456789[]{},:\"-. eE"[random.Next(22)];
                return bytes;
            case 2 when bytes.Length > header: // flips in the data section: these load, with different values
                for (int i = random.Next(1, 9); i > 0; i--)
                    bytes[random.Next(header, bytes.Length)] ^= (byte)random.Next(1, 256);
                return bytes;
            case 3: // truncation anywhere
                return bytes[..random.Next(0, bytes.Length + 1)];
            case 4 when bytes.Length >= 8: // header length rewritten: near the real one, inside the file, or anything
                ulong length = random.Next(3) switch
                {
                    0 => (ulong)(headerEnd - 8 + random.Next(-16, 17)),
                    1 => (ulong)random.NextInt64(0, bytes.Length + 16),
                    _ => (ulong)random.NextInt64() * (ulong)random.Next(1, 3),
                };
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
                return bytes;
            case 5 when bytes.Length >= 8: // flips in the length field itself
                bytes[random.Next(0, 8)] ^= (byte)random.Next(1, 256);
                return bytes;
            default:
                return bytes.Length > 0 ? bytes[..random.Next(0, bytes.Length)] : bytes;
        }
    }

    [Fact]
    public void Safetensors_ThousandsOfMutations_OnlyEverRaiseCheckpointException()
    {
        byte[] valid = ValidSafetensors();
        var random = new Random(20240611);
        var clock = Stopwatch.StartNew();
        const int Mutations = 1500;
        var (loaded, rejected, failures) = Fuzz(Mutations, "safetensors", _ => Mutate(valid, random));
        output.WriteLine($"{Mutations} mutations: {loaded} loaded, {rejected} rejected, {failures.Count} other; {clock.ElapsedMilliseconds} ms");
        Assert.Empty(failures);
        Assert.True(loaded > 50, $"only {loaded} mutations loaded: the fuzzer is not exercising the load path");
        Assert.True(rejected > 500, $"only {rejected} mutations were rejected");
    }

    [Fact]
    public void PytorchBin_Mutations_OnlyEverRaiseCheckpointException()
    {
        string seed = dir.File("seed.bin");
        var tensors = new Dictionary<string, torch.Tensor>
        {
            ["w"] = Fixtures.Values([4, 4], torch.ScalarType.Float32),
            ["h"] = Fixtures.Values([5], torch.ScalarType.Float16),
            ["b"] = Fixtures.Values([3], torch.ScalarType.BFloat16),
        };
        try
        {
            PyTorchPickler.PickleStateDict(seed, tensors);
        }
        finally
        {
            Fixtures.DisposeAll(tensors.Values);
        }
        byte[] valid = File.ReadAllBytes(seed);
        var random = new Random(7);
        var (loaded, rejected, failures) = Fuzz(400, "bin", _ =>
        {
            byte[] bytes = (byte[])valid.Clone();
            if (random.Next(4) == 0)
                return bytes[..random.Next(0, bytes.Length)];
            for (int k = random.Next(1, 6); k > 0; k--) bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
            return bytes;
        });
        output.WriteLine($"400 mutations: {loaded} loaded, {rejected} rejected, {failures.Count} other");
        Assert.Empty(failures);
        Assert.True(rejected > 0);
    }

    // Writes each mutation to a file, opens and fully loads it: success or CheckpointException naming the file,
    // anything else is a failure.
    private (int Loaded, int Rejected, List<string> Failures) Fuzz(int count, string extension, Func<int, byte[]> mutation)
    {
        int loaded = 0, rejected = 0;
        var failures = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string path = dir.File($"m{i}.{extension}");
            File.WriteAllBytes(path, mutation(i));
            try
            {
                Fixtures.OpenAndLoadAll(path);
                loaded++;
            }
            catch (CheckpointException e)
            {
                Assert.Contains(Path.GetFileName(path), e.Message, StringComparison.Ordinal);
                rejected++;
            }
            catch (Exception e)
            {
                failures.Add($"mutation {i}: {e.GetType().Name}: {e.Message}");
            }
            File.Delete(path);
        }
        return (loaded, rejected, failures);
    }
}
