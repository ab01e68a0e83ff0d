using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

/// <summary>Files that are not exactly a LLaMA-3 tokenizer fail to load with a message naming the file and the reason.</summary>
public class TokenizerRejectionTests
{
    private static readonly Lazy<string> s_realJson = new(() => File.ReadAllText(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json")));

    [Fact]
    public void A_gpt2_style_tokenizer_json_is_rejected()
    {
        string path = TextTestData.File("not-llama3-tokenizer.json");

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("is not a LLaMA-3 tokenizer", error.Message);
        Assert.Contains("5 entries, expected 128000", error.Message);
    }

    [Theory]
    [InlineData(@"\\p{N}{1,3}", @"\\p{N}{1,2}", "pre-tokenizer")]
    [InlineData("\"<|eot_id|>\"", "\"<|end_of_turn|>\"", "special token 128009")]
    [InlineData("\"type\": \"BPE\"", "\"type\": \"WordPiece\"", "model type")]
    public void A_modified_llama_3_tokenizer_json_is_rejected(string find, string replace, string reason)
    {
        Assert.Contains(find, s_realJson.Value);
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.json", ReplaceFirst(s_realJson.Value, find, replace));

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(folder.Path));

        Assert.Contains(path, error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Merges_out_of_rank_order_are_rejected()
    {
        // The first merge joins two spaces (rank 256); moving "i n" (rank 258) before it breaks the rank order.
        string json = ReplaceFirst(s_realJson.Value, "\"i n\",", "");
        json = ReplaceFirst(json, "\"merges\": [", "\"merges\": [\"i n\",");
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json);

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(folder.Path));

        Assert.Contains("out of rank order", error.Message);
    }

    [Fact]
    public void A_missing_merge_is_rejected()
    {
        string json = ReplaceFirst(s_realJson.Value, "\"i n\",", "");
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json);

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(folder.Path));

        Assert.Contains("no merge joins 'i' and 'n'", error.Message);
    }

    [Fact]
    public void A_file_that_is_not_json_is_rejected()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.json", "{ not json");

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Fact]
    public void A_sentencepiece_tokenizer_model_is_rejected()
    {
        using var folder = new TempFolder();
        // The start of a SentencePiece protobuf: binary, not 'base64 rank' lines.
        string path = folder.Write("tokenizer.model", [0x0A, 0x0B, 0x0A, 0x05, 0x3C, 0x75, 0x6E, 0x6B, 0x3E, 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x02]);

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("not a tiktoken rank file", error.Message);
    }

    [Fact]
    public void A_tiktoken_file_with_another_vocabulary_size_is_rejected()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.model", "IQ== 0\nIg== 1\n");

        var error = Assert.Throws<InvalidDataException>(() => Llama3Tokenizer.Load(path));

        Assert.Contains("rank 2 is missing", error.Message);
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        int at = text.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{find}' not found");
        return string.Concat(text.AsSpan(0, at), replace, text.AsSpan(at + find.Length));
    }
}
