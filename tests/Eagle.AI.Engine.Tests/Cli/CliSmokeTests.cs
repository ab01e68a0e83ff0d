using System.Text.Json;

namespace Eagle.AI.Engine.Tests.Cli;

public class CliSmokeTests
{
    [Fact]
    public void Create_test_model_then_inspect_then_generate()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "tiny");
        var created = EagleProcess.Run("create-test-model", model, "--preset", "tiny", "--seed", "3");
        Assert.True(created.ExitCode == 0, created.StdErr);
        Assert.True(File.Exists(Path.Combine(model, "config.json")));
        Assert.True(File.Exists(Path.Combine(model, "model.safetensors")));

        var inspected = EagleProcess.Run("inspect", model, "--json");
        Assert.True(inspected.ExitCode == 0, inspected.StdErr);
        using var info = JsonDocument.Parse(inspected.StdOut);
        Assert.Equal(8, info.RootElement.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(128256, info.RootElement.GetProperty("vocab_size").GetInt32());
        Assert.True(info.RootElement.GetProperty("parameters").GetInt64() > 16_000_000);

        var generated = EagleProcess.Run("generate", "--model", model, "--prompt-ids", "128000,9906,1917",
            "--max-new-tokens", "6", "--json");
        Assert.True(generated.ExitCode == 0, generated.StdErr);
        using var doc = JsonDocument.Parse(generated.StdOut); // exactly one JSON object on stdout
        var ids = doc.RootElement.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(6, ids.Length);
        Assert.Equal("length", doc.RootElement.GetProperty("finish_reason").GetString());
        Assert.Equal(3, doc.RootElement.GetProperty("stats").GetProperty("prompt_tokens").GetInt32());

        // greedy is deterministic; a seeded sample too
        var again = EagleProcess.Run("generate", "--model", model, "--prompt-ids", "128000,9906,1917", "--max-new-tokens", "6", "--json");
        Assert.Equal(generated.StdOut, again.StdOut.Replace(Stats(again.StdOut), Stats(generated.StdOut), StringComparison.Ordinal));
    }

    private static string Stats(string json) => json[json.IndexOf("\"stats\"", StringComparison.Ordinal)..];

    [Fact]
    public void Create_test_model_writes_the_asked_dtype_and_rejects_an_unknown_one()
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, "tiny-bf16");
        var created = EagleProcess.Run("create-test-model", model, "--preset", "tiny", "--dtype", "bfloat16");
        Assert.True(created.ExitCode == 0, created.StdErr);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "config.json")));
        Assert.Equal("bfloat16", config.RootElement.GetProperty("torch_dtype").GetString());

        var inspected = EagleProcess.Run("inspect", model, "--json");
        Assert.True(inspected.ExitCode == 0, inspected.StdErr);
        using var info = JsonDocument.Parse(inspected.StdOut);
        var dtypes = info.RootElement.GetProperty("dtypes").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["BF16"], dtypes);
        Assert.Equal(info.RootElement.GetProperty("parameters").GetInt64() * 2, info.RootElement.GetProperty("bytes").GetInt64());

        var generated = EagleProcess.Run("generate", "--model", model, "--dtype", "bfloat16", "--prompt-ids", "128000,9906", "--max-new-tokens", "2", "--json");
        Assert.True(generated.ExitCode == 0, generated.StdErr);

        var bad = EagleProcess.Run("create-test-model", Path.Combine(dir.Path, "x"), "--dtype", "int8");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--dtype: 'int8' is not one of float32, bfloat16, float16", bad.StdErr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "x")));
    }

    [Fact]
    public void The_chat_preset_names_the_tokenizer_it_needs_and_refuses_a_used_folder()
    {
        using var dir = new TempDir();
        var noTokenizer = EagleProcess.Run("create-test-model", Path.Combine(dir.Path, "chat"), "--preset", "chat", "--tokenizer", dir.Path);
        Assert.Equal(1, noTokenizer.ExitCode);
        Assert.Contains("needs the LLaMA-3.1 tokenizer.json", noTokenizer.StdErr);
        Assert.Contains("build/fetch-tokenizer.sh", noTokenizer.StdErr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "chat")));

        string used = Path.Combine(dir.Path, "used");
        Directory.CreateDirectory(used);
        File.WriteAllText(Path.Combine(used, "keep.txt"), "mine");
        var notEmpty = EagleProcess.Run("create-test-model", used, "--preset", "chat", "--tokenizer", Text.TextTestData.TokenizerFolder);
        Assert.Equal(1, notEmpty.ExitCode);
        Assert.Contains("is not empty", notEmpty.StdErr);
        Assert.True(File.Exists(Path.Combine(used, "keep.txt")));                     // nothing of the user's is touched
    }

    [Fact]
    public void Bad_input_gets_one_clear_line_and_exit_code_1()
    {
        using var dir = new TempDir();
        var missing = EagleProcess.Run("generate", "--model", Path.Combine(dir.Path, "nope"), "--prompt-ids", "1,2");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("config.json not found", missing.StdErr);

        string model = Path.Combine(dir.Path, "m");
        Assert.Equal(0, EagleProcess.Run("create-test-model", model).ExitCode);
        var badIds = EagleProcess.Run("generate", "--model", model, "--prompt-ids", "1,x");
        Assert.Equal(1, badIds.ExitCode);
        Assert.Contains("--prompt-ids", badIds.StdErr);
        var badTemp = EagleProcess.Run("generate", "--model", model, "--prompt-ids", "1", "--temperature", "-1");
        Assert.Equal(1, badTemp.ExitCode);
        Assert.Contains("temperature", badTemp.StdErr);
        var badPlacement = EagleProcess.Run("generate", "--model", model, "--prompt-ids", "1", "--layer-placement", "cpu=0-x");
        Assert.Equal(1, badPlacement.ExitCode);
        Assert.Contains("--layer-placement: layer placement 'cpu=0-x'", badPlacement.StdErr);
    }

    [Fact]
    public void Bench_on_a_named_shape_reports_the_floor_and_the_ratio()
    {
        var r = EagleProcess.Run("bench", "--shape", "tiny", "--max-new-tokens", "4", "--runs", "1", "--eagle3-projection", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.True(doc.RootElement.GetProperty("copy_bandwidth_gb_s").GetDouble() > 0);
        Assert.True(doc.RootElement.GetProperty("decode_tokens_per_second").GetDouble() > 0);
        Assert.True(doc.RootElement.GetProperty("fraction_of_floor").GetDouble() > 0);
        var projection = doc.RootElement.GetProperty("speculative_projection");
        Assert.Equal(60, projection.GetProperty("tree_tokens").GetInt32());
        Assert.True(projection.GetProperty("draft_round_ms").GetDouble() > 0);
        Assert.Equal(Eagle.AI.Engine.Decoding.VerifyCostCurve.DefaultSizes.Length, projection.GetProperty("verify_cost_ratio").EnumerateObject().Count());
        Assert.Equal(3, projection.GetProperty("projected_tokens_per_second").EnumerateObject().Count());
    }

    [Fact]
    public void Bench_with_a_response_format_prints_the_mask_time_and_its_share_of_a_projected_8b_gpu_step()
    {
        var r = EagleProcess.Run("bench", "--shape", "tiny", "--max-new-tokens", "6", "--runs", "1",
            "--tokenizer", Eagle.AI.Engine.Tests.Text.TextTestData.TokenizerFolder, "--response-format", "json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var lines = r.StdOut.Split('\n');
        var mask = System.Text.RegularExpressions.Regex.Match(
            lines.Single(l => l.StartsWith("constrained decode ", StringComparison.Ordinal)), @"token mask ([0-9.]+) ms/token mean");
        Assert.True(mask.Success, r.StdOut);
        double maskMs = double.Parse(mask.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        // 16.06 GB of fp16 weights at 4.8 TB/s: a 3.35 ms step; the mask is not overlapped, so its share adds to it.
        string projection = lines.Single(l => l.StartsWith("projected on a GPU: ", StringComparison.Ordinal));
        Assert.Contains("Llama-3.1-8B fp16 on an H200 reads 16.06 GB", projection);
        Assert.Contains("at least 3.35 ms (bandwidth floor, assumed)", projection);
        Assert.Contains("not overlapped with the forward", projection);
        Assert.EndsWith($"adds {maskMs:F3} ms = {maskMs / 3.3458333:P1} of that step", projection.TrimEnd());
    }

    [Theory]
    [InlineData("1", 2.5, 9.0)]
    [InlineData("0", 1.0, 1.0)]
    public void Bench_at_a_steered_acceptance_gets_that_acceptance_and_vanilla_output(string acceptance, double minTau, double maxTau)
    {
        var r = EagleProcess.Run("bench", "--shape", "tiny", "--dtype", "float32", "--acceptance", acceptance, "--total-tokens", "8", "--depth", "3",
            "--max-new-tokens", "24", "--limit", "2", "--prompt-tokens", "10", "--threads", "2", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var root = doc.RootElement;
        Assert.Equal("float32", root.GetProperty("dtype").GetString());
        Assert.Equal(2, root.GetProperty("threads").GetInt32());           // as asked, not what the CPU kernels left libtorch
        Assert.InRange(root.GetProperty("mean_acceptance_length").GetDouble(), minTau, maxTau);
        Assert.Equal(1.0, root.GetProperty("identical_to_vanilla").GetDouble());
        foreach (var key in new[] { "vanilla_tokens_per_s", "speculative_tokens_per_s", "speedup", "vanilla_prefill_ms", "speculative_prefill_ms" })
            Assert.True(root.GetProperty(key).GetDouble() > 0, key);
        Assert.Equal(10, root.GetProperty("prompt_tokens").GetInt32());
        var perPrompt = root.GetProperty("speedup_per_prompt");                  // the spread of the vanilla/speculative pairs
        double min = perPrompt.GetProperty("min").GetDouble(), median = perPrompt.GetProperty("median").GetDouble(), max = perPrompt.GetProperty("max").GetDouble();
        Assert.True(min > 0 && min <= median && median <= max, $"{min} {median} {max}");

        var bad = EagleProcess.Run("bench", "--shape", "tiny", "--acceptance", "1.5");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--acceptance must be in [0, 1]", bad.StdErr);
    }

    [Fact]
    public void Bench_at_several_concurrency_levels_reports_each_mode_per_level()
    {
        var r = EagleProcess.Run("bench", "--shape", "tiny", "--dtype", "float32", "--concurrency", "1,3", "--total-tokens", "8", "--depth", "3",
            "--max-new-tokens", "6", "--prompt-tokens", "5", "--runs", "2", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal(2, doc.RootElement.GetProperty("runs").GetInt32());
        var levels = doc.RootElement.GetProperty("levels").EnumerateArray().ToList();
        Assert.Equal([(1, "vanilla"), (1, "speculative"), (3, "vanilla"), (3, "speculative")],
            levels.Select(l => (l.GetProperty("concurrency").GetInt32(), l.GetProperty("mode").GetString())));
        foreach (var l in levels)
        {
            foreach (var key in new[] { "aggregate_tokens_per_s", "decode_tokens_per_s", "per_request_tokens_per_s", "ttft_ms_p50", "ttft_ms_p95" })
                Assert.True(l.GetProperty(key).GetDouble() > 0, key);
            Assert.True(l.GetProperty("ttft_ms_p95").GetDouble() >= l.GetProperty("ttft_ms_p50").GetDouble());
            double aggregate = l.GetProperty("aggregate_tokens_per_s").GetDouble();   // the median of two runs is the slower one
            Assert.Equal(l.GetProperty("aggregate_tokens_per_s_min").GetDouble(), aggregate);
            Assert.True(l.GetProperty("aggregate_tokens_per_s_max").GetDouble() >= aggregate);
            double drafted = l.GetProperty("drafted_rounds_share").GetDouble(), draftMs = l.GetProperty("draft_ms").GetDouble();
            Assert.InRange(drafted, 0, l.GetProperty("mode").GetString() == "vanilla" ? 0 : 1);
            Assert.Equal(drafted > 0, draftMs > 0);                                  // drafting time exactly when rounds drafted
        }
        Assert.Equal(1.0, levels[0].GetProperty("ratio_to_first_level").GetDouble());
        Assert.Equal(1.0, levels[0].GetProperty("decode_ratio_to_first_level").GetDouble());

        // One new token each: no decode part, reported as 0 rather than a NaN that JSON cannot hold.
        var single = EagleProcess.Run("bench", "--shape", "tiny", "--dtype", "float32", "--concurrency", "1", "--max-new-tokens", "1", "--runs", "1", "--json");
        Assert.True(single.ExitCode == 0, single.StdErr);
        using var singleDoc = JsonDocument.Parse(single.StdOut);
        Assert.All(singleDoc.RootElement.GetProperty("levels").EnumerateArray(), l => Assert.Equal(0, l.GetProperty("decode_ratio_to_first_level").GetDouble()));

        var bad = EagleProcess.Run("bench", "--shape", "tiny", "--concurrency", "1,x");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--concurrency: 'x'", bad.StdErr);
        var noRuns = EagleProcess.Run("bench", "--shape", "tiny", "--concurrency", "1", "--runs", "0");
        Assert.Equal(1, noRuns.ExitCode);
        Assert.Contains("--runs must be at least 1, got 0", noRuns.StdErr);
    }

    [Fact]
    public void Bench_multi_turn_reports_turn_two_ttft_with_and_without_reuse()
    {
        var r = EagleProcess.Run("bench", "--shape", "tiny", "--dtype", "float32", "--multi-turn", "--limit", "2", "--prompt-tokens", "40",
            "--max-new-tokens", "6", "--total-tokens", "8", "--depth", "3", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        var modes = doc.RootElement.GetProperty("modes").EnumerateArray().ToList();
        Assert.Equal(["vanilla", "speculative"], modes.Select(m => m.GetProperty("mode").GetString()));
        foreach (var m in modes)
        {
            // turn 2 = 40 + 6 + 16 tokens; all but the new question (and a token or two) comes from turn 1's KV
            Assert.Equal(62, m.GetProperty("turn2_prompt_tokens").GetDouble());
            Assert.InRange(m.GetProperty("cached_fraction").GetDouble(), 43.0 / 62 - 0.001, 45.0 / 62 + 0.001);   // printed to 3 decimals
            Assert.True(m.GetProperty("turn2_ttft_ms_with_reuse").GetDouble() > 0);
            Assert.True(m.GetProperty("turn2_ttft_ms_without_reuse").GetDouble() > 0);
        }
    }

    [Fact]
    public void A_bad_EAGLE_LIBTORCH_DIR_is_one_clear_error_not_a_crash()
    {
        using var dir = new TempDir();
        var missing = EagleProcess.RunWith(new Dictionary<string, string> { ["EAGLE_LIBTORCH_DIR"] = Path.Combine(dir.Path, "nope") }, "create-test-model", Path.Combine(dir.Path, "m"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("EAGLE_LIBTORCH_DIR", missing.StdErr);
        Assert.Contains("not an existing absolute folder", missing.StdErr);

        // this build ships the NuGet libtorch beside it: loading a second libtorch would abort the process
        string own = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        File.Copy(Path.Combine(own, "libtorch.so"), Path.Combine(dir.Path, "libtorch.so"));
        var twice = EagleProcess.RunWith(new Dictionary<string, string> { ["EAGLE_LIBTORCH_DIR"] = dir.Path }, "create-test-model", Path.Combine(dir.Path, "m"));
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("EagleTorchBackend=none", twice.StdErr);
    }
}
