using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary>
/// An MT-bench-style <c>question.jsonl</c> (one object per line with its <c>turns</c>) and the chat format of the model
/// folder whose tokenizer renders them, for the benches that take <c>--questions</c>.
/// </summary>
internal sealed class QuestionFile
{
    private readonly Llama3ChatFormat format;
    private readonly ChatFormatOptions options;

    private QuestionFile(Llama3Tokenizer tokenizer, string modelFolder, List<string[]> turns)
    {
        Tokenizer = tokenizer;
        format = new Llama3ChatFormat(tokenizer);
        options = ChatFormatOptions.Default with { Version = ChatFormatVersionDetector.Detect(modelFolder) };
        Turns = turns;
    }

    /// <summary>The model folder's tokenizer.</summary>
    public Llama3Tokenizer Tokenizer { get; }

    /// <summary>Each question's turns, in file order.</summary>
    public IReadOnlyList<string[]> Turns { get; }

    /// <summary>Reads the first <paramref name="limit"/> questions of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="ArgumentException">The model folder has no tokenizer.</exception>
    public static QuestionFile Read(string path, int limit, string? modelFolder)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--questions: {path} not found", path);
        var tokenizer = (modelFolder is null ? null : ModelOptions.TryTokenizer(modelFolder))
            ?? throw new ArgumentException($"--questions needs a tokenizer: in the model folder, or a folder given with --tokenizer ({modelFolder ?? "none given"} has none)");
        var turns = File.ReadLines(path).Where(l => l.Trim().Length > 0).Take(limit).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("turns").EnumerateArray().Select(t => t.GetString() ?? "").ToArray();
        }).ToList();
        return new QuestionFile(tokenizer, modelFolder!, turns);
    }

    /// <summary>The prompt ids of <paramref name="messages"/> in the model's chat format.</summary>
    public int[] Render(params IReadOnlyList<PromptMessage> messages) => [.. format.Format(messages, null, options).Ids];
}
