using System.Text.Json;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Tests.Text;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Cli;

public class CliGenerateTests
{
    private static string TinyModelWithTokenizer(TempDir dir)
    {
        string model = Path.Combine(dir.Path, "model");
        using (var m = LlamaFactory.CreateRandom(LlamaPresets.Get("tiny"), 4, ScalarType.Float32, CPU))
            LlamaCheckpoint.Save(m, model);
        foreach (var f in Directory.GetFiles(TextTestData.TokenizerFolder))
            File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        return model;
    }

    private static JsonElement Json(EagleProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Response_format_constrains_the_output_to_the_schema_file_or_to_json()
    {
        using var dir = new TempDir();
        string model = TinyModelWithTokenizer(dir);
        string schema = Path.Combine(dir.Path, "schema.json");
        File.WriteAllText(schema, """{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer"}},"required":["ok","n"],"additionalProperties":false}""");
        var answer = Json(EagleProcess.Run("generate", "--model", model, "--prompt", "Hello", "--max-new-tokens", "60", "--response-format", schema, "--json"));
        Assert.Equal("stop", answer.GetProperty("finish_reason").GetString());
        var value = JsonDocument.Parse(answer.GetProperty("text").GetString()!).RootElement;
        Assert.Equal(JsonValueKind.Number, value.GetProperty("n").ValueKind);
        Assert.True(value.GetProperty("ok").ValueKind is JsonValueKind.True or JsonValueKind.False);

        var json = Json(EagleProcess.Run("generate", "--model", model, "--prompt", "Hello", "--max-new-tokens", "8", "--response-format", "json", "--json"));
        Assert.StartsWith("{", json.GetProperty("text").GetString(), StringComparison.Ordinal);

        var refused = EagleProcess.Run("generate", "--model", model, "--prompt", "a", "--response-format", "nowhere.json");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("nowhere.json", refused.StdErr);
    }

    [Fact]
    public void Prompt_text_and_messages_are_encoded_with_the_folders_tokenizer_and_the_output_has_text()
    {
        using var dir = new TempDir();
        string model = TinyModelWithTokenizer(dir);
        var plain = Json(EagleProcess.Run("generate", "--model", model, "--prompt", "Hello world", "--max-new-tokens", "5", "--json"));
        Assert.Equal(1 + TextTestData.Tokenizer.Encode("Hello world").Length, plain.GetProperty("stats").GetProperty("prompt_tokens").GetInt32());
        var ids = plain.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(TextTestData.Tokenizer.Decode(ids), plain.GetProperty("text").GetString());

        string conversation = Path.Combine(dir.Path, "chat.json");
        File.WriteAllText(conversation, """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <|eot_id|>"}]}""");
        var chat = Json(EagleProcess.Run("generate", "--model", model, "--messages", conversation, "--max-new-tokens", "3", "--json"));
        var expected = new Eagle.AI.Engine.Text.Llama3ChatFormat(TextTestData.Tokenizer).Format(
            [Eagle.AI.Engine.Text.PromptMessage.System("Be brief."), Eagle.AI.Engine.Text.PromptMessage.User("Hi <|eot_id|>")]).Ids;
        Assert.Equal(expected.Count, chat.GetProperty("stats").GetProperty("prompt_tokens").GetInt32());
        File.WriteAllText(conversation, """[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <|eot_id|>"}]""");
        var plainArray = Json(EagleProcess.Run("generate", "--model", model, "--messages", conversation, "--max-new-tokens", "3", "--json"));
        Assert.Equal(expected.Count, plainArray.GetProperty("stats").GetProperty("prompt_tokens").GetInt32());   // a bare messages array too

        var userOnly = Json(EagleProcess.Run("generate", "--model", model, "--user", "Hi <|eot_id|>", "--max-new-tokens", "3", "--json"));
        var expectedUser = new Eagle.AI.Engine.Text.Llama3ChatFormat(TextTestData.Tokenizer).Format([Eagle.AI.Engine.Text.PromptMessage.User("Hi <|eot_id|>")]).Ids;
        Assert.Equal(expectedUser.Count, userOnly.GetProperty("stats").GetProperty("prompt_tokens").GetInt32());  // one user message, chat-formatted

        var none = EagleProcess.Run("generate", "--model", model, "--prompt", "a", "--prompt-ids", "1");
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("exactly one of", none.StdErr);
    }

    [Fact]
    public void With_a_draft_head_the_output_equals_vanilla_and_stats_gain_rounds_and_tau()
    {
        using var dir = new TempDir();
        string model = TinyModelWithTokenizer(dir);
        string draft = Path.Combine(dir.Path, "draft");
        using (var target = LlamaCheckpoint.Load(model, ScalarType.Float32, CPU))
        using (var head = Eagle3Head.CreateRandom(target, seed: 2, draftVocabSize: 1000))
            head.Save(draft);
        var inspected = Json(EagleProcess.Run("inspect", draft, "--json"));                  // a draft-head folder is described as one
        Assert.Equal("Eagle3", inspected.GetProperty("kind").GetString());
        Assert.Equal(1000, inspected.GetProperty("draft_vocab_size").GetInt32());
        Assert.False(inspected.GetProperty("own_embedding").GetBoolean());
        string[] common = ["generate", "--model", model, "--dtype", "float32", "--prompt-ids", "128000,9906,1917", "--max-new-tokens", "12", "--json"];
        var vanilla = Json(EagleProcess.Run(common));
        var dynamic = Json(EagleProcess.Run([.. common, "--draft", draft, "--total-tokens", "12", "--depth", "3", "--tree-top-k", "3"]));
        var fixedStatic = Json(EagleProcess.Run([.. common, "--draft", draft, "--tree", "static"]));
        var auto = Json(EagleProcess.Run([.. common, "--draft", draft, "--total-tokens", "auto"]));
        Assert.True(auto.GetProperty("stats").GetProperty("drafted_rounds").GetInt32() <= auto.GetProperty("stats").GetProperty("rounds").GetInt32());
        foreach (var run in new[] { dynamic, fixedStatic, auto })
        {
            Assert.Equal(vanilla.GetProperty("output_ids").ToString(), run.GetProperty("output_ids").ToString());
            var stats = run.GetProperty("stats");
            Assert.True(stats.GetProperty("rounds").GetInt32() > 0);
            Assert.True(stats.GetProperty("mean_acceptance_length").GetDouble() >= 1.0);
            Assert.True(stats.GetProperty("accepted_draft_tokens").GetInt32() >= 0);
        }
        var bad = EagleProcess.Run([.. common, "--draft", draft, "--total-tokens", "lots"]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--total-tokens", bad.StdErr);
    }
}
