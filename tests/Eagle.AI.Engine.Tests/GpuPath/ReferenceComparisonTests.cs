using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.GpuPath;

public sealed class ReferenceComparisonTests : IDisposable
{
    private readonly ReferenceFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public void The_reference_folder_is_found_and_every_row_passes()
    {
        Assert.Equal([fixture.Folder], ReferenceComparison.Folders(fixture.Root));
        var rows = ReferenceComparison.Run(fixture.Folder, CPU, ScalarType.Float32);
        Assert.All(rows, r => Assert.True(r.Outcome == SelfTestOutcome.Pass, $"{r.Check}: {r.Measured}"));
        // load, logits, the three capture layers [2, 3, 4], greedy, speculative
        Assert.Equal(7, rows.Count);
        Assert.Contains(rows, r => r.Check.EndsWith("hidden state entering layer 3", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Check.EndsWith("greedy 32 tokens", StringComparison.Ordinal) && r.Measured.StartsWith("32/32", StringComparison.Ordinal));
    }

    [Fact]
    public void A_perturbed_logit_hidden_state_or_token_is_reported_as_a_failure()
    {
        var r = fixture.Reference;
        float[][] logits = r.Logits.Select(row => (float[])row.Clone()).ToArray();
        logits[5][17] += 1.0f;                                                 // ≈ 3 % of the largest logit
        float[][][] hidden = r.HiddenStates.Select(b => b.Select(row => (float[])row.Clone()).ToArray()).ToArray();
        hidden[1][0][3] -= 0.5f;
        int[] greedy = (int[])r.GreedyIds.Clone();
        greedy[20] = (greedy[20] + 1) % fixture.Reference.Logits[0].Length;
        (r with { Logits = logits, HiddenStates = hidden, GreedyIds = greedy }).Save(fixture.ReferencePath);

        var rows = ReferenceComparison.Run(fixture.Folder, CPU, ScalarType.Float32);
        var failed = rows.Where(x => x.Outcome == SelfTestOutcome.Fail).Select(x => x.Check[(ReferenceFixture.Name.Length + 2)..]).ToList();
        Assert.Equal(["logits [12×512]", "hidden state entering layer 3", "greedy 32 tokens"], failed);
        Assert.StartsWith("20/32", rows.Single(x => x.Check.EndsWith("greedy 32 tokens", StringComparison.Ordinal)).Measured);
    }

    [Fact]
    public void A_missing_or_malformed_reference_is_one_failed_row()
    {
        File.WriteAllText(fixture.ReferencePath, """{"format": "eagle-reference-v1", "input_ids": [1, 2], "logits": [[0.5]]}""");
        var rows = ReferenceComparison.Run(fixture.Folder, CPU, ScalarType.Float32);
        var row = Assert.Single(rows);
        Assert.Equal(SelfTestOutcome.Fail, row.Outcome);
        Assert.Contains("1 logit rows for 2 input ids", row.Measured);

        File.Delete(fixture.ReferencePath);
        Assert.Empty(ReferenceComparison.Folders(fixture.Root));
    }

    [Fact]
    public void A_file_in_the_format_reference_py_writes_is_read()
    {
        // Exactly what json.dump(record, f, allow_nan=False) prints for a tiny record (Python float reprs included).
        const string written = """
            {"format": "eagle-reference-v1", "source": "transformers 4.46.3, torch 2.5.1, cpu float32", "input_ids": [5, 7], "logits": [[0.1, -2e-05, 3.0], [1.5e-07, -0.0, -12.75]], "hidden_state_layers": [0], "hidden_states": [[[0.25, -1.0], [2.0, 0.0]]], "greedy_ids": [1, 2]}
            """;
        File.WriteAllText(fixture.ReferencePath, written);
        var r = ReferenceFile.Load(fixture.ReferencePath);
        Assert.Equal([5, 7], r.InputIds);
        Assert.Equal([0.1f, -2e-05f, 3.0f], r.Logits[0]);
        Assert.Equal(-12.75f, r.Logits[1][2]);
        Assert.Equal([0], r.HiddenStateLayers);
        Assert.Equal([2.0f, 0.0f], r.HiddenStates[0][1]);
        Assert.Equal([1, 2], r.GreedyIds);
        Assert.StartsWith("transformers", r.Source, StringComparison.Ordinal);

        File.WriteAllText(fixture.ReferencePath, written.Replace("eagle-reference-v1", "eagle-reference-v0", StringComparison.Ordinal));
        Assert.Throws<InvalidDataException>(() => ReferenceFile.Load(fixture.ReferencePath));
    }
}
