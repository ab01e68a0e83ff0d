using System.CommandLine;
using System.Text.Json;
using Eagle.Cli.Commands;

namespace Eagle.AI.Engine.Tests.Text;

/// <summary>The tokenize and prompt commands, parsed and invoked through System.CommandLine with captured output.</summary>
public class CliCommandTests
{
    [Fact]
    public void Tokenize_text_prints_comma_separated_ids()
    {
        var (code, output, _) = Run("tokenize", "--tokenizer", TextTestData.TiktokenFolder, "--text", "Hello, world!");

        Assert.Equal(0, code);
        Assert.Equal("9906,11,1917,0", output.TrimEnd());
    }

    [Fact]
    public void Tokenize_input_prints_one_id_array_per_string_in_order()
    {
        using var folder = new TempFolder();
        string input = folder.Write("strings.json", "[\"Hello, world!\", \"<|eot_id|>\", \"\"]");
        var tokenizer = TextTestData.Tokenizer;

        var (code, output, _) = Run("tokenize", "--tokenizer", TextTestData.TiktokenFolder, "--input", input);

        Assert.Equal(0, code);
        int[][] expected = [[9906, 11, 1917, 0], tokenizer.Encode("<|eot_id|>"), []];
        Assert.Equal(expected, JsonSerializer.Deserialize<int[][]>(output));
    }

    [Fact]
    public void Tokenize_decode_prints_text_with_special_tokens()
    {
        var (code, output, _) = Run("tokenize", "--tokenizer", TextTestData.TiktokenFolder, "--decode", "128000, 9906,11,1917,0");

        Assert.Equal(0, code);
        Assert.Equal("<|begin_of_text|>Hello, world!", output.TrimEnd('\n'));
    }

    [Theory]
    [InlineData("--decode", "1,x,3", "'x' is not a token id")]
    [InlineData("--decode", "128256", "'128256' is not a token id")]
    public void Tokenize_rejects_bad_ids(string option, string value, string message)
    {
        var (code, _, error) = Run("tokenize", "--tokenizer", TextTestData.TiktokenFolder, option, value);

        Assert.Equal(1, code);
        Assert.Contains(message, error);
    }

    [Fact]
    public void Tokenize_needs_exactly_one_mode()
    {
        var (code, _, error) = Run("tokenize", "--tokenizer", TextTestData.TiktokenFolder, "--text", "a", "--decode", "1");

        Assert.Equal(1, code);
        Assert.Contains("exactly one of --text, --input or --decode", error);
    }

    [Fact]
    public void Missing_or_malformed_files_fail_with_their_name()
    {
        using var folder = new TempFolder();
        string missing = Path.Combine(folder.Path, "missing.json");
        string broken = folder.Write("broken.json", "[\"unterminated");
        string notStrings = folder.Write("numbers.json", "[1, 2]");

        foreach (string file in new[] { missing, broken, notStrings })
        {
            var (code, _, error) = Run("tokenize", "--tokenizer", TextTestData.TiktokenFolder, "--input", file);
            Assert.Equal(1, code);
            Assert.Contains(file, error);
        }
        foreach (string file in new[] { missing, broken })
        {
            var (code, _, error) = Run("prompt", "--tokenizer", TextTestData.TiktokenFolder, "--input", file);
            Assert.Equal(1, code);
            Assert.Contains(file, error);
        }
        var (tokenizerCode, _, tokenizerError) = Run("tokenize", "--tokenizer", missing, "--text", "a");
        Assert.Equal(1, tokenizerCode);
        Assert.Contains(missing, tokenizerError);
    }

    [Fact]
    public void Prompt_reproduces_every_reference_rendering_and_ids()
    {
        string input = TextTestData.File("llama3_1-reference-prompts.json");

        var (code, output, error) = Run("prompt", "--tokenizer", TextTestData.TokenizerFolder, "--input", input);

        Assert.True(code == 0, error);
        using var expected = JsonDocument.Parse(File.ReadAllText(input));
        using var actual = JsonDocument.Parse(output);
        Assert.Equal(expected.RootElement.GetArrayLength(), actual.RootElement.GetArrayLength());
        foreach (var (want, got) in expected.RootElement.EnumerateArray().Zip(actual.RootElement.EnumerateArray()))
        {
            Assert.Equal(want.GetProperty("rendered").GetString(), got.GetProperty("rendered").GetString());
            Assert.Equal(want.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), got.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        }
    }

    [Fact]
    public void Prompt_auto_detects_the_3_0_template_of_the_fetched_folder()
    {
        using var folder = new TempFolder();
        string input = folder.Write("c.json", "[{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}]");
        string model = TextTestData.WriteTiktokenModel(folder.Path);
        File.Copy(Path.Combine(TextTestData.TokenizerFolder, "tokenizer_config.json"), Path.Combine(folder.Path, "tokenizer_config.json"));

        var (code, output, _) = Run("prompt", "--tokenizer", model, "--input", input, "--chat-format", "auto");

        Assert.Equal(0, code);
        using var result = JsonDocument.Parse(output);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            result.RootElement[0].GetProperty("rendered").GetString());
    }

    [Fact]
    public void Prompt_reports_conversations_the_template_rejects()
    {
        using var folder = new TempFolder();
        string input = folder.Write("c.json", "[{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}], \"tools\": []}]");

        var (code, _, error) = Run("prompt", "--tokenizer", TextTestData.TiktokenFolder, "--input", input);

        Assert.Equal(1, code);
        Assert.Contains(input, error);
        Assert.Contains("no first user message", error);
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand { TokenizeCommand.Create(), PromptCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
