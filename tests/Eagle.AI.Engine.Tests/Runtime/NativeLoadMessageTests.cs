using Eagle.AI.Engine.Runtime;

namespace Eagle.AI.Engine.Tests.Runtime;

/// <summary>What an application sees when its native libtorch does not load: one line that says what to add.</summary>
public class NativeLoadMessageTests
{
    [Fact]
    public void The_message_is_one_line_naming_the_packages_and_the_variable_with_the_first_line_of_the_cause()
    {
        string probed = "Could not load libtorch-cpu-linux-x64\n" + string.Concat(Enumerable.Range(0, 150).Select(i => $"  tried /some/path/{i}/libtorch.so\n"));
        var e = new TypeInitializationException("TorchSharp.torch", new NotSupportedException(probed));
        string message = TorchRuntime.NativeLoadMessage(e);
        Assert.DoesNotContain('\n', message);
        Assert.Contains("libtorch-cpu-linux-x64", message);
        Assert.Contains("TorchSharp-cuda-linux", message);
        Assert.Contains(TorchRuntime.LibTorchDirVariable, message);
        Assert.EndsWith("Cause: Could not load libtorch-cpu-linux-x64", message);
        Assert.DoesNotContain("EagleTorchBackend", message);                        // this repository's build switch means nothing to a package user
        Assert.DoesNotContain("GLIBCXX", message);

        var old = new DllNotFoundException("libLibTorchSharp.so: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found");
        Assert.Contains("libstdc++ is older", TorchRuntime.NativeLoadMessage(old));
    }
}
