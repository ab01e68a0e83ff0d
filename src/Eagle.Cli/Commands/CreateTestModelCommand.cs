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
        var preset = new Option<string>("--preset") { Description = string.Join(", ", LlamaPresets.Names), DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong([.. LlamaPresets.Names]);
        // Built and written in this dtype, so a real-size shape (llama3-1b: 2.5 GB in bfloat16) never needs an fp32 copy.
        var dtype = new Option<string>("--dtype") { Description = "weight dtype written: float32, bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        dtype.Validators.Add(v =>
        {
            if (v.GetValueOrDefault<string>() is not ("float32" or "bfloat16" or "float16") and var given)
                v.AddError($"--dtype: '{given}' is not one of float32, bfloat16, float16");
        });
        var seed = new Option<long>("--seed") { Description = "random seed", DefaultValueFactory = _ => 1 };
        var shard = new Option<long?>("--max-shard-bytes") { Description = "write shards + model.safetensors.index.json" };
        var cmd = new Command("create-test-model", "Write a random LLaMA-3 checkpoint for tests, demos and benchmarks") { dir, preset, dtype, seed, shard };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchRuntime.EnsureInitialized();
            string folder = r.GetValue(dir)!;
            var dt = TorchRuntime.ParseDType(r.GetValue(dtype)!, CPU);
            using var model = LlamaFactory.CreateRandom(LlamaPresets.Get(r.GetValue(preset)!), r.GetValue(seed), dt, CPU);
            LlamaCheckpoint.Save(model, folder, r.GetValue(shard));
            Console.WriteLine($"wrote {r.GetValue(preset)} model ({model.ParameterCount:N0} parameters, {TorchRuntime.Name(dt)}) to {Path.GetFullPath(folder)}");
            return 0;
        }));
        return cmd;
    }
}
