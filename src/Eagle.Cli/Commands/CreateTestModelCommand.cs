using System.CommandLine;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.Cli.Commands;

/// <summary><c>eagle create-test-model &lt;dir&gt;</c>: a seeded random LLaMA-3-layout checkpoint with a peaked lm_head.</summary>
internal static class CreateTestModelCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "folder to write config.json and model.safetensors into" };
        var preset = new Option<string>("--preset") { Description = "tiny or small", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong("tiny", "small");
        var seed = new Option<long>("--seed") { Description = "random seed", DefaultValueFactory = _ => 1 };
        var shard = new Option<long?>("--max-shard-bytes") { Description = "write shards + model.safetensors.index.json" };
        var cmd = new Command("create-test-model", "Write a random LLaMA-3 checkpoint for tests and demos") { dir, preset, seed, shard };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchRuntime.EnsureInitialized();
            string folder = r.GetValue(dir)!;
            using var model = LlamaFactory.CreateRandom(LlamaPresets.Get(r.GetValue(preset)!), r.GetValue(seed), ScalarType.Float32, CPU);
            LlamaCheckpoint.Save(model, folder, r.GetValue(shard));
            Console.WriteLine($"wrote {r.GetValue(preset)} model ({model.ParameterCount:N0} parameters) to {Path.GetFullPath(folder)}");
            return 0;
        }));
        return cmd;
    }
}
