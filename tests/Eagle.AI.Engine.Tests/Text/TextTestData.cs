using System.Diagnostics;
using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

/// <summary>
/// Where the text tests find their data: copied test files next to the test assembly, and the real LLaMA-3 tokenizer
/// in &lt;repo&gt;/.cache, fetched by build/fetch-tokenizer.sh on first use so that `dotnet test` works on its own.
/// </summary>
internal static class TextTestData
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);
    private static readonly Lazy<Llama3Tokenizer> s_tokenizer = new(() => Llama3Tokenizer.Load(TokenizerFolder));

    /// <summary>A file under TestData/Text in the test output folder.</summary>
    public static string File(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "TestData", "Text", .. parts]);

    /// <summary>The repository root (the folder holding Eagle.AI.sln).</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>The fetched tokenizer folder (tokenizer.json, tokenizer_config.json); fetched when missing.</summary>
    public static string TokenizerFolder
    {
        get
        {
            EnsureTokenizerFetched();
            return Path.Combine(RepoRoot, ".cache", "tokenizer-llama3_1");
        }
    }

    /// <summary>The real tokenizer, loaded once for all tests.</summary>
    public static Llama3Tokenizer Tokenizer => s_tokenizer.Value;

    /// <summary>
    /// A model folder holding only original/tokenizer.model, written from <see cref="Tokenizer"/>: it loads several times
    /// faster than tokenizer.json, whose conversion is checked in full, so tests that load a tokenizer by path use it.
    /// </summary>
    public static string TiktokenFolder => s_tiktokenFolder.Value;

    private static readonly Lazy<string> s_tiktokenFolder = new(() =>
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "tiktoken-tokenizer");
        WriteTiktokenModel(folder);
        return folder;
    });

    /// <summary>Writes &lt;folder&gt;/original/tokenizer.model with the ranks of <see cref="Tokenizer"/>; returns its path.</summary>
    public static string WriteTiktokenModel(string folder)
    {
        string file = Path.Combine(folder, "original", "tokenizer.model");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        byte[][] ranks = [.. Enumerable.Range(0, Llama3SpecialTokens.BaseVocabularySize).Select(id => Tokenizer.GetTokenBytes(id).ToArray())];
        // Written beside and renamed, so a concurrent test run never reads a half-written file.
        string partial = $"{file}.{Guid.NewGuid():N}";
        System.IO.File.WriteAllBytes(partial, TiktokenFile.Write(ranks));
        System.IO.File.Move(partial, file, overwrite: true);
        return file;
    }

    /// <summary>Every turn of the six eval question sets.</summary>
    public static IEnumerable<string> EvalTurns(string dataset) =>
        System.IO.File.ReadLines(File("eval", dataset, "question.jsonl"))
            .Where(line => line.Length > 0)
            .SelectMany(line =>
            {
                using var question = JsonDocument.Parse(line);
                return question.RootElement.GetProperty("turns").EnumerateArray().Select(t => t.GetString()!).ToArray();
            });

    /// <summary>The names of the eval question sets.</summary>
    public static readonly string[] EvalSets = ["alpaca", "gsm8k", "humaneval", "mt_bench", "qa", "sum"];

    /// <summary>A JSON test file as a document.</summary>
    public static JsonDocument Json(string name) => JsonDocument.Parse(System.IO.File.ReadAllText(File(name)));

    private static readonly object s_fetchLock = new();

    private static void EnsureTokenizerFetched()
    {
        lock (s_fetchLock)
        {
            string folder = Path.Combine(RepoRoot, ".cache", "tokenizer-llama3_1");
            if (System.IO.File.Exists(Path.Combine(folder, "tokenizer.json")))
            {
                return;
            }
            var start = new ProcessStartInfo("bash", [Path.Combine(RepoRoot, "build", "fetch-tokenizer.sh")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = RepoRoot,
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)) || process.ExitCode != 0)
            {
                throw new InvalidOperationException($"build/fetch-tokenizer.sh failed: {stdout.Result}{stderr}");
            }
        }
    }

    private static string FindRepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(folder.FullName, "Eagle.AI.sln")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException($"Eagle.AI.sln not found above {AppContext.BaseDirectory}.");
    }
}
