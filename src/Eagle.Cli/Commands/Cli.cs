using System.CommandLine;
using System.Text.Json;
using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Runtime;

namespace Eagle.Cli.Commands;

/// <summary>Options and helpers shared by the commands.</summary>
internal static class Cli
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static Option<string> Device() => new("--device")
    {
        Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu",
    };

    public static Option<string> DType() => new("--dtype")
    {
        Description = "auto (fp16 on CUDA; on a CPU bf16 where it has bf16 instructions or AVX-512 for the engine's kernel, else fp32), float32, bfloat16 or float16", DefaultValueFactory = _ => "auto",
    };

    public static Option<bool> JsonOutput() => new("--json") { Description = "print one JSON object on stdout" };

    /// <summary>"1,2,3" → [1, 2, 3], or a clear error naming the option.</summary>
    public static int[] ParseIds(string text, string option)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option}: expected comma-separated token ids, got '{text}'");
        }
    }

    /// <summary>Runs a command body, turning expected failures into one line on stderr and exit code 1.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is CheckpointException or ArgumentException or TorchRuntimeException or IOException
                                    or InvalidOperationException or JsonException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Progress of a model load, on stderr (stdout stays clean for --json).</summary>
    public static Action<int, int> LoadProgress(string what) => (done, total) =>
    {
        if (Console.IsErrorRedirected) { if (done == total) Console.Error.WriteLine($"loaded {what}: {total} tensors"); return; }
        int width = 30, filled = total == 0 ? width : done * width / total;
        Console.Error.Write($"\rloading {what} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total}");
        if (done == total) Console.Error.WriteLine();
    };
}
