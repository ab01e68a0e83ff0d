using TorchSharp;
using Xunit;

namespace Eagle.AI.Engine.Tests.Runtime;

// The build bans (BannedSymbols.txt) every TorchSharp call that hands libtorch a Scalar the GC may free mid-call. These
// tests keep that list true to the TorchSharp we build against, so an upgrade cannot quietly let the hazard back in.
public sealed class TemporaryScalarBanTests
{
    private static readonly HashSet<string> Banned = File.ReadLines(BannedSymbolsFile())
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split(';')[0])
        .ToHashSet(StringComparer.Ordinal);

    private static readonly IReadOnlyList<string> Hazards = TemporaryScalarScan.PublicMethodsMakingTemporaryScalars(typeof(torch).Assembly.Location);

    private static string BannedSymbolsFile()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "BannedSymbols.txt"))) return Path.Combine(dir.FullName, "BannedSymbols.txt");
        throw new FileNotFoundException("BannedSymbols.txt not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void The_scan_finds_the_hazards_we_were_bitten_by()
    {
        Assert.Contains("M:TorchSharp.torch.Tensor.op_Addition(TorchSharp.torch.Tensor,TorchSharp.torch.Tensor)", Hazards);  // the implicit alpha
        Assert.Contains("M:TorchSharp.torch.Tensor.add(TorchSharp.torch.Tensor)", Hazards);
        Assert.Contains("M:TorchSharp.torch.arange(TorchSharp.Scalar,TorchSharp.Scalar,System.Nullable{TorchSharp.torch.ScalarType},TorchSharp.torch.Device,System.Boolean)", Hazards);
        Assert.DoesNotContain("M:TorchSharp.torch.Tensor.add(TorchSharp.torch.Tensor,TorchSharp.Scalar)", Hazards);          // an explicit alpha is the caller's
        Assert.DoesNotContain("M:TorchSharp.torch.Tensor.op_Subtraction(TorchSharp.torch.Tensor,TorchSharp.torch.Tensor)", Hazards);
    }

    [Fact]
    public void Every_tensor_and_functional_hazard_is_banned()
    {
        // Distributions, TorchScript, histograms, printing and module fusion are out of scope: the engine does not use them.
        string[] outOfScope = [".distributions.", ".jit.", ".utils.", ".histogram(", ".PrintValue(", "M:TorchSharp.torch.nn.PReLU"];
        var inScope = Hazards
            .Where(id => id.StartsWith("M:TorchSharp.torch.", StringComparison.Ordinal) || id.StartsWith("M:TorchSharp.TensorExtensionMethods.", StringComparison.Ordinal))
            .Where(id => !outOfScope.Any(o => id.Contains(o, StringComparison.Ordinal)));
        var missing = inScope.Where(id => !Banned.Contains(id)).ToList();
        Assert.True(missing.Count == 0, "add to BannedSymbols.txt:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void Every_implicit_conversion_to_Scalar_is_banned()
    {
        var conversions = typeof(Scalar).GetMethods().Where(m => m.Name == "op_Implicit" && m.ReturnType == typeof(Scalar)).ToList();
        Assert.True(conversions.Count >= 10);
        foreach (var c in conversions)
        {
            var from = c.GetParameters()[0].ParameterType;
            string name = from.IsGenericType
                ? from.FullName![..from.FullName!.IndexOf('`')] + "{" + string.Join(",", from.GetGenericArguments().Select(a => a.FullName)) + "}"
                : from.FullName!;
            Assert.Contains($"M:TorchSharp.Scalar.op_Implicit({name})~TorchSharp.Scalar", Banned);
        }
    }
}
