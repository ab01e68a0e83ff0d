using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

public class Llama3TokenizerTests
{
    private static Llama3Tokenizer Tokenizer => TextTestData.Tokenizer;

    public static TheoryData<int> ReferenceIndexes()
    {
        using var document = TextTestData.Json("llama3_1-reference-ids.json");
        return [.. Enumerable.Range(0, document.RootElement.GetArrayLength())];
    }

    public static TheoryData<string> EvalSets() => [.. TextTestData.EvalSets];

    [Theory]
    [MemberData(nameof(ReferenceIndexes))]
    public void Reference_string_encodes_to_its_ids_and_decodes_back(int index)
    {
        using var document = TextTestData.Json("llama3_1-reference-ids.json");
        var entry = document.RootElement[index];
        string text = entry.GetProperty("text").GetString()!;
        int[] expected = [.. entry.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];

        Assert.Equal(expected, Tokenizer.Encode(text));
        Assert.Equal(text, Tokenizer.Decode(expected));
    }

    [Theory]
    [MemberData(nameof(EvalSets))]
    public void Eval_turns_round_trip(string dataset)
    {
        int turns = 0;
        foreach (string turn in TextTestData.EvalTurns(dataset))
        {
            int[] ids = Tokenizer.Encode(turn);
            Assert.All(ids, id => Assert.InRange(id, 0, Llama3SpecialTokens.BaseVocabularySize - 1));
            Assert.Equal(turn, Tokenizer.Decode(ids));
            turns++;
        }
        Assert.True(turns > 0);
    }

    [Theory]
    [InlineData("<|eot_id|>")]
    [InlineData("<|begin_of_text|>Hello<|start_header_id|>system<|end_header_id|>")]
    [InlineData("<|python_tag|>{\"name\": \"x\"}<|eom_id|>")]
    [InlineData("<|reserved_special_token_200|><|end_of_text|>")]
    public void Special_token_strings_encode_as_ordinary_text(string text)
    {
        int[] ids = Tokenizer.Encode(text);

        Assert.All(ids, id => Assert.False(Tokenizer.IsSpecial(id)));
        Assert.Equal(text, Tokenizer.Decode(ids));
    }

    [Fact]
    public void Empty_text_encodes_to_no_ids() => Assert.Empty(Tokenizer.Encode(""));

    [Fact]
    public void Structural_ids_and_special_names()
    {
        Assert.Equal((128000, 128009, 128008, 128001), (Tokenizer.BosId, Tokenizer.EotId, Tokenizer.EomId, Tokenizer.EosId));
        Assert.Equal([128001, 128008, 128009], Tokenizer.StopIds);
        Assert.Equal(128256, Tokenizer.VocabularySize);
        Assert.Equal(256, Tokenizer.SpecialTokenNames.Count);
        Assert.True(Tokenizer.TryGetSpecialId("<|eot_id|>", out int eot));
        Assert.Equal(128009, eot);
        Assert.True(Tokenizer.TryGetSpecialId("<|start_header_id|>", out int start));
        Assert.Equal(128006, start);
        Assert.False(Tokenizer.TryGetSpecialId("<|not_a_token|>", out _));
        Assert.Equal("<|end_header_id|>", Tokenizer.GetSpecialName(128007));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.GetSpecialName(42));
    }

    [Fact]
    public void Special_names_come_from_tokenizer_json_added_tokens()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json")));
        foreach (var token in document.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            Assert.Equal(token.GetProperty("content").GetString(), Tokenizer.GetSpecialName(token.GetProperty("id").GetInt32()));
        }
    }

    [Fact]
    public void Decode_skips_special_ids_unless_asked()
    {
        int[] ids = [128000, .. Tokenizer.Encode("Hi"), 128009];

        Assert.Equal("Hi", Tokenizer.Decode(ids));
        Assert.Equal("<|begin_of_text|>Hi<|eot_id|>", Tokenizer.Decode(ids, includeSpecialTokens: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([128256]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([-1]));
    }

    [Fact]
    public void Token_bytes_of_a_split_character_are_partial_utf8()
    {
        int[] ids = Tokenizer.Encode("🦙");
        Assert.True(ids.Length > 1);

        byte[] joined = [.. ids.SelectMany(id => Tokenizer.GetTokenBytes(id).ToArray())];
        Assert.Equal(Encoding.UTF8.GetBytes("🦙"), joined);
        Assert.Equal("\uFFFD", Tokenizer.Decode(ids[..1]));
        Assert.Equal(Encoding.UTF8.GetBytes("<|eot_id|>"), Tokenizer.GetTokenBytes(128009).ToArray());
    }

    [Fact]
    public void TryFind_prefers_original_tokenizer_model_then_tokenizer_json()
    {
        using var folder = new TempFolder();
        Assert.Null(Llama3Tokenizer.TryFind(folder.Path));

        string json = folder.Write("tokenizer.json", "{}");
        Assert.Equal(json, Llama3Tokenizer.TryFind(folder.Path));

        string model = folder.Write(Path.Combine("original", "tokenizer.model"), "");
        Assert.Equal(model, Llama3Tokenizer.TryFind(folder.Path));
    }

    [Fact]
    public void Load_accepts_a_folder_or_a_file_and_reports_missing_ones()
    {
        var fromFile = Llama3Tokenizer.Load(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json"));
        Assert.Equal(Tokenizer.Encode("Hello, world!"), fromFile.Encode("Hello, world!"));

        using var empty = new TempFolder();
        var noTokenizer = Assert.Throws<FileNotFoundException>(() => Llama3Tokenizer.Load(empty.Path));
        Assert.Contains(empty.Path, noTokenizer.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => Llama3Tokenizer.Load(Path.Combine(empty.Path, "nope.json")));
        Assert.Contains("nope.json", missing.Message);
    }

    [Fact]
    public void Tiktoken_file_built_from_tokenizer_json_encodes_identically()
    {
        // The shared tokenizer was loaded from tokenizer.json; TiktokenFolder holds its ranks as Meta's tokenizer.model.
        var fromTiktoken = Llama3Tokenizer.Load(TextTestData.TiktokenFolder);
        Assert.Equal(Path.Combine(TextTestData.TiktokenFolder, "original", "tokenizer.model"), fromTiktoken.SourcePath);

        using var reference = TextTestData.Json("llama3_1-reference-ids.json");
        var texts = reference.RootElement.EnumerateArray().Select(e => e.GetProperty("text").GetString()!)
            .Concat(TextTestData.EvalSets.SelectMany(TextTestData.EvalTurns));
        foreach (string text in texts)
        {
            Assert.Equal(Tokenizer.Encode(text), fromTiktoken.Encode(text));
        }
        for (int id = 0; id < Llama3SpecialTokens.VocabularySize; id++)
        {
            Assert.True(id >= Llama3SpecialTokens.BaseVocabularySize || Tokenizer.GetTokenBytes(id).SequenceEqual(fromTiktoken.GetTokenBytes(id)), $"token {id}");
        }
    }

    [Fact]
    public void The_rank_file_matches_an_independent_byte_level_reading_of_tokenizer_json()
    {
        // GPT-2's alphabet rebuilt here from its definition, not from the code under test.
        var byteOf = new Dictionary<char, byte>();
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= 33 and <= 126) or (>= 161 and <= 172) or (>= 174 and <= 255);
            byteOf[(char)(printable ? b : 256 + shifted++)] = (byte)b;
        }
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json")));
        var vocab = document.RootElement.GetProperty("model").GetProperty("vocab");
        var ranks = new SortedDictionary<int, string>();
        foreach (var entry in vocab.EnumerateObject())
        {
            ranks[entry.Value.GetInt32()] = Convert.ToBase64String([.. entry.Name.Select(c => byteOf[c])]);
        }
        string expected = string.Concat(ranks.Select(r => $"{r.Value} {r.Key}\n"));

        Assert.Equal(expected, File.ReadAllText(Path.Combine(TextTestData.TiktokenFolder, "original", "tokenizer.model")));
    }

    [Fact]
    public void Special_names_come_from_a_neighbouring_tokenizer_json_or_default_to_llama_3_1()
    {
        // Alone, tokenizer.model has no names: the LLaMA-3.1 names are used.
        var alone = Llama3Tokenizer.Load(TextTestData.TiktokenFolder);
        Assert.True(alone.TryGetSpecialId("<|eom_id|>", out int eom));
        Assert.Equal(128008, eom);
        Assert.True(alone.TryGetSpecialId("<|python_tag|>", out int pythonTag));
        Assert.Equal(128010, pythonTag);
        Assert.Equal("<|reserved_special_token_247|>", alone.GetSpecialName(128255));

        // With tokenizer.json one folder up from original/, its names win (this file names 128008 as reserved).
        using var folder = new TempFolder();
        string model = TextTestData.WriteTiktokenModel(folder.Path);
        File.Copy(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json"), Path.Combine(folder.Path, "tokenizer.json"));
        var withNames = Llama3Tokenizer.Load(model);
        Assert.Equal(Tokenizer.SpecialTokenNames, withNames.SpecialTokenNames);
        Assert.Equal(model, withNames.SourcePath);
    }

    [Fact]
    public void Default_special_names_follow_the_llama_3_1_layout()
    {
        Assert.Equal("<|reserved_special_token_2|>", Llama3SpecialTokens.DefaultName(128005));
        Assert.Equal("<|reserved_special_token_3|>", Llama3SpecialTokens.DefaultName(128011));
        Assert.Equal("<|finetune_right_pad_id|>", Llama3SpecialTokens.DefaultName(128004));
        Assert.Throws<ArgumentOutOfRangeException>(() => Llama3SpecialTokens.DefaultName(128256));
    }
}
