using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>eagle prompt</c>: render conversations (OpenAI chat shape, e.g. <c>llama3_1-reference-prompts.json</c>) with the
/// LLaMA-3 chat template and print each prompt's text and ids.
/// </summary>
internal static class PromptCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var tokenizerOption = new Option<string>("--tokenizer")
        {
            Description = "Model folder, tokenizer.json or tiktoken tokenizer.model",
            Required = true,
        };
        var inputOption = new Option<string>("--input")
        {
            Description = "JSON array of conversations: {\"messages\", \"tools\"?, \"vars\"?}",
            Required = true,
        };
        var formatOption = new Option<string>("--chat-format")
        {
            Description = "Template: 3.1, 3.0, or auto (detect from the tokenizer's model folder)",
            DefaultValueFactory = _ => "3.1",
        };
        formatOption.AcceptOnlyFromAmong("3.1", "3.0", "auto");

        var command = new Command("prompt", "Render conversations with the LLaMA-3 chat template; prints [{\"rendered\", \"ids\"}].")
        {
            tokenizerOption, inputOption, formatOption,
        };
        command.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            string tokenizerPath = parseResult.GetValue(tokenizerOption)!;
            string input = parseResult.GetValue(inputOption)!;
            try
            {
                var version = parseResult.GetValue(formatOption) switch
                {
                    "3.0" => ChatFormatVersion.Llama30,
                    "auto" => ChatFormatVersionDetector.Detect(tokenizerPath),
                    _ => ChatFormatVersion.Llama31,
                };
                var conversations = ReadConversations(input, ChatFormatOptions.Default with { Version = version });
                var format = new Llama3ChatFormat(Llama3Tokenizer.Load(tokenizerPath));
                var prompts = conversations.Select((conversation, i) => FormatOne(format, conversation, input, i)).ToArray();
                WriteJson(parseResult.InvocationConfiguration.Output, prompts);
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ChatFormatException or UnauthorizedAccessException)
            {
                error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static IReadOnlyList<ChatConversation> ReadConversations(string path, ChatFormatOptions defaults)
    {
        try
        {
            return ConversationJson.ParseConversations(File.ReadAllText(path), defaults);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"'{path}': {e.Message}", e);
        }
    }

    private static ChatPrompt FormatOne(Llama3ChatFormat format, ChatConversation conversation, string path, int index)
    {
        try
        {
            return format.Format(conversation);
        }
        catch (ChatFormatException e)
        {
            throw new ChatFormatException($"'{path}' conversation [{index}]: {e.Message}");
        }
    }

    private static void WriteJson(TextWriter output, IEnumerable<ChatPrompt> prompts)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps '<|eot_id|>' and non-ASCII text readable; the output is still valid JSON.
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartArray();
            foreach (var prompt in prompts)
            {
                writer.WriteStartObject();
                writer.WriteString("rendered", prompt.Rendered);
                writer.WriteStartArray("ids");
                foreach (int id in prompt.Ids)
                {
                    writer.WriteNumberValue(id);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
