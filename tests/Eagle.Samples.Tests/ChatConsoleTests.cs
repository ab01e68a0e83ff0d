using System.Globalization;
using System.Text.RegularExpressions;
using Eagle.AI.Testing;
using Eagle.Samples.Console;

namespace Eagle.Samples.Tests;

/// <summary>The console sample's entry point, in process, on the tiny chat model with speculation on.</summary>
public sealed partial class ChatConsoleTests
{
    [GeneratedRegex(@"^\[(\d+) prompt \+ (\d+) answer tokens in ([\d.]+) s: ([\d.]+) tokens/s, τ ([\d.]+)\]$")]
    private static partial Regex StatsLine();

    [Fact]
    public async Task Chat_StreamsAnswers_KeepsAndResetsHistory_Exits()
    {
        var (code, output) = await RunAsync(
            TinyChatScript.CapitalQuestion, TinyChatScript.GreetingQuestion, ChatConsole.ResetCommand, TinyChatScript.CapitalQuestion,
            ChatConsole.ExitCommand, TinyChatScript.GreetingQuestion);

        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        var stats = lines.Select(l => StatsLine().Match(l)).Where(m => m.Success).ToList();
        Assert.Equal(3, stats.Count);   // nothing after /exit is answered
        Assert.Equal(2, lines.Count(l => l == "> " + TinyChatScript.CapitalAnswer));
        Assert.Contains("> (conversation cleared)", lines);
        foreach (var m in stats)
        {
            Assert.True(long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) > 3);
            Assert.True(double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) > 0);
            // τ above 1: the trained draft head had tokens accepted, so the answer really was decoded speculatively.
            Assert.True(double.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture) > 1.0, m.Value);
        }
        long Prompt(int i) => long.Parse(stats[i].Groups[1].Value, CultureInfo.InvariantCulture);
        long Answer(int i) => long.Parse(stats[i].Groups[2].Value, CultureInfo.InvariantCulture);
        // The second question is sent with the first exchange before it; after /reset the first question stands alone again.
        Assert.True(Prompt(1) > Prompt(0) + Answer(0), $"prompts {Prompt(0)}, {Prompt(1)}");
        Assert.Equal(Prompt(0), Prompt(2));
    }

    [Fact]
    public async Task Chat_EndsAtEndOfInput()
    {
        var (code, output) = await RunAsync(TinyChatScript.GreetingQuestion);
        Assert.Equal(0, code);
        Assert.Contains("> " + TinyChatScript.GreetingAnswer, output.Split('\n', StringSplitOptions.TrimEntries));
        Assert.Single(output.Split('\n', StringSplitOptions.TrimEntries), l => StatsLine().IsMatch(l));
    }

    [Fact]
    public async Task Chat_RefusesAMissingModelFolder()
    {
        var output = new StringWriter();
        int code = await ChatConsole.RunAsync(["--model", Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"))],
            new StringReader(TinyChatScript.GreetingQuestion), output);
        Assert.Equal(1, code);
        Assert.Equal("", output.ToString());
    }

    private static async Task<(int Code, string Output)> RunAsync(params string[] lines)
    {
        var options = TinyChatModel.Options(speculative: true);
        var tree = options.Tree;
        string[] args =
        [
            "--model", options.ModelPath!, "--draft", options.DraftModelPath!, "--device", options.Device, "--dtype", options.DType,
            "--Eagle:Speculative=true", "--Eagle:Warmup=false",
            .. tree is null ? [] : new[]
            {
                $"--Eagle:Tree:TotalTokens={tree.TotalTokens}", $"--Eagle:Tree:Depth={tree.Depth}", $"--Eagle:Tree:TopK={tree.TopK}",
            },
        ];
        var output = new StringWriter { NewLine = "\n" };
        int code = await ChatConsole.RunAsync(args, new StringReader(string.Join('\n', lines)), output);
        return (code, output.ToString());
    }
}
