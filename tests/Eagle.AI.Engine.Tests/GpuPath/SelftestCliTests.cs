using Eagle.AI.Engine.Tests.Cli;

namespace Eagle.AI.Engine.Tests.GpuPath;

public class SelftestCliTests
{
    [Fact]
    public void Selftest_on_the_cpu_passes_with_exit_code_0()
    {
        var r = EagleProcess.Run("selftest", "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
        Assert.Contains("op sdpa, bool mask", r.StdOut);
        Assert.Contains("speculative == vanilla", r.StdOut);
        Assert.Contains("its drafts land by chance", r.StdOut);                     // its τ is no claim about real heads
        Assert.Contains(" 0 failed", r.StdOut);
    }

    [Fact]
    public void Selftest_with_a_reference_folder_compares_it_and_fails_with_exit_code_1_on_a_mismatch()
    {
        using var fixture = new ReferenceFixture();
        var ok = EagleProcess.Run("selftest", "--device", "cpu", "--reference", fixture.Root);
        Assert.True(ok.ExitCode == 0, ok.StdOut + ok.StdErr);
        Assert.Contains($"{ReferenceFixture.Name}: logits", ok.StdOut);

        (fixture.Reference with { GreedyIds = [.. fixture.Reference.GreedyIds.Select(t => (t + 1) % 512)] }).Save(fixture.ReferencePath);
        var bad = EagleProcess.Run("selftest", "--device", "cpu", "--reference", fixture.Root);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("FAIL", bad.StdOut);
        Assert.Contains(" 1 failed", bad.StdOut);
    }

    [Fact]
    public void Selftest_on_cuda_without_a_gpu_fails_with_a_row_that_says_so()
    {
        // The tests reference the CPU libtorch, so CUDA is missing unless they were built for a CUDA backend on a GPU.
        if (TorchSharp.torch.cuda.is_available()) return;
        var r = EagleProcess.Run("selftest", "--device", "cuda");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cuda available", r.StdOut);
        Assert.Contains("FAIL", r.StdOut);
    }
}
