using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Eagle.AI.Engine.Text;

// The CLI tests invoke the internal command factories directly.
[assembly: InternalsVisibleTo("Eagle.AI.Engine.Tests")]

namespace Eagle.Cli.Commands;

/// <summary><c>eagle tokenize</c>: encode text as plain text (no BOS, no special tokens) or decode ids with the LLaMA-3 tokenizer.</summary>
internal static class TokenizeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var tokenizerOption = new Option<string>("--tokenizer")
        {
            Description = "Model folder, tokenizer.json or tiktoken tokenizer.model",
            Required = true,
        };
        var textOption = new Option<string>("--text") { Description = "Text to encode; prints comma-separated ids" };
        var inputOption = new Option<string>("--input") { Description = "JSON array of strings to encode; prints a JSON array of id arrays" };
        var decodeOption = new Option<string>("--decode") { Description = "Comma-separated ids to decode; prints the text, special tokens included" };

        var command = new Command("tokenize", "Encode text to LLaMA-3 token ids, or decode ids to text.")
        {
            tokenizerOption, textOption, inputOption, decodeOption,
        };
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            string? text = parseResult.GetValue(textOption);
            string? input = parseResult.GetValue(inputOption);
            string? decode = parseResult.GetValue(decodeOption);
            if ((text is null ? 0 : 1) + (input is null ? 0 : 1) + (decode is null ? 0 : 1) != 1)
            {
                error.WriteLine("error: give exactly one of --text, --input or --decode.");
                return 1;
            }
            try
            {
                var tokenizer = Llama3Tokenizer.Load(parseResult.GetValue(tokenizerOption)!);
                if (text is not null)
                {
                    output.WriteLine(string.Join(",", tokenizer.Encode(text)));
                }
                else if (input is not null)
                {
                    var ids = ReadStrings(input).Select(tokenizer.Encode).ToArray();
                    output.WriteLine(JsonSerializer.Serialize(ids));
                }
                else
                {
                    output.WriteLine(tokenizer.Decode(ParseIds(decode!, tokenizer.VocabularySize), includeSpecialTokens: true));
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or FormatException or UnauthorizedAccessException)
            {
                error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static string[] ReadStrings(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<string[]>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"'{path}' must hold a JSON array of strings, not null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a JSON array of strings: {e.Message}", e);
        }
    }

    private static int[] ParseIds(string list, int vocabularySize) =>
        [.. list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(item =>
            int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int id) && id < vocabularySize
                ? id
                : throw new FormatException($"--decode: '{item}' is not a token id in [0, {vocabularySize})."))];
}
