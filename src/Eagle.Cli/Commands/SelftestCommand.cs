using System.CommandLine;
using System.Diagnostics;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>eagle selftest [--device cuda|cpu] [--reference &lt;dir&gt;]</c>: checks, on the chosen device, the ops the engine
/// uses, optionally reference checkpoints, and speculative == vanilla; prints a table and exits 1 on any failure. Made
/// for machines without the .NET SDK (a published app over a PyTorch's libtorch), where xunit cannot run.
/// </summary>
internal static class SelftestCommand
{
    public static Command Create()
    {
        var device = Cli.Device();
        var dtype = Cli.DType();
        dtype.Description = "auto (fp16 on CUDA; fp32 on a CPU, the reference the checks compare with), float32, bfloat16 or float16";
        var reference = new Option<string?>("--reference")
        {
            Description = "folder of checkpoint subfolders, each with a reference.json (written by tools/gpu/reference.py)",
        };
        var cmd = new Command("selftest", "Check ops, reference checkpoints and speculative == vanilla on a device; exit code 1 on any failure")
        {
            device, dtype, reference,
        };
        cmd.SetAction(r => Cli.Run(() =>
        {
            var clock = Stopwatch.StartNew();
            var table = new Table();
            var (deviceRows, dev) = SelfTestDevice.Describe(r.GetValue(device)!);
            table.Add(deviceRows);
            if (dev is not null)
            {
                // auto checks the GPU path's dtype (fp16 on CUDA); on a CPU it stays fp32, the reference the ops are compared with.
                string spec = r.GetValue(dtype)!;
                var dt = TorchRuntime.IsAuto(spec) && dev.type != TorchSharp.DeviceType.CUDA
                    ? TorchSharp.torch.ScalarType.Float32
                    : TorchRuntime.ParseDType(spec, dev);
                table.Add(new SelfTestResult("dtype", SelfTestOutcome.Info, TorchRuntime.Name(dt)));
                table.Add(SelfTestOps.Run(dev, dt));
                if (r.GetValue(reference) is { } root)
                {
                    var folders = Directory.Exists(root) ? ReferenceComparison.Folders(root) : [];
                    if (folders.Count == 0)
                        table.Add(new SelfTestResult("reference", SelfTestOutcome.Fail,
                            $"no checkpoint folder with config.json and {ReferenceFile.FileName} under {root}"));
                    foreach (var folder in folders) table.Add(ReferenceComparison.Run(folder, dev, dt));
                }
                table.Add(SpeculativeSelfTest.RunOnRandomModel(dev, dt));
            }
            return table.Finish(clock.Elapsed);
        }));
        return cmd;
    }

    // Rows are printed as they come, so a native crash (an unresolved libtorch symbol aborts the process) still shows
    // how far the checks got.
    private sealed class Table
    {
        private const string Format = "{0,-52} {1,-5} {2,-62} {3}";
        private readonly List<SelfTestResult> rows = [];

        public Table() => Console.WriteLine(Format, "check", "", "measured", "limit");

        public void Add(SelfTestResult row)
        {
            rows.Add(row);
            string outcome = row.Outcome switch { SelfTestOutcome.Pass => "PASS", SelfTestOutcome.Fail => "FAIL", _ => "info" };
            Console.WriteLine(Format, row.Check, outcome, row.Measured, row.Limit);
        }

        public void Add(IEnumerable<SelfTestResult> more)
        {
            foreach (var row in more) Add(row);
        }

        public int Finish(TimeSpan elapsed)
        {
            int failed = rows.Count(r => r.Outcome == SelfTestOutcome.Fail);
            int passed = rows.Count(r => r.Outcome == SelfTestOutcome.Pass);
            Console.WriteLine($"selftest: {passed} passed, {failed} failed, {rows.Count - passed - failed} info, {elapsed.TotalSeconds:F1} s");
            return failed == 0 ? 0 : 1;
        }
    }
}
