using Eagle.AI.Testing;
using Eagle.Samples.Agents;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>Console redirection is process-wide, so the sample's runs never overlap other tests.</summary>
[CollectionDefinition(nameof(SampleProgramCollection), DisableParallelization = true)]
public sealed class SampleProgramCollection;

/// <summary>The agent sample's program, run as a user would (configuration from the command line over appsettings.json).</summary>
[Collection(nameof(SampleProgramCollection))]
public class SampleProgramTests
{
    [Fact]
    public async Task The_sample_answers_the_configured_question_on_a_model_folder()
    {
        var (exitCode, output, error) = await RunSampleAsync(
            "--Eagle:ModelPath", TinyChatModel.Folder, "--Eagle:DraftModelPath", TinyChatModel.DraftFolder,
            "--Eagle:Device", "cpu", "--Eagle:DType", "float32", "--Eagle:MaxOutputTokens", $"{TinyKernelFixture.MaxOutputTokens}", "--Question", TinyChatScript.WeatherQuestion);

        Assert.True(exitCode == 0, $"exit code {exitCode}: {error}");
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(
            [
                $"> {TinyChatScript.WeatherQuestion}",
                $"[tool] Weather_{TinyChatScript.WeatherFunctionName}({TinyChatScript.WeatherParameterName}: {TinyChatScript.WeatherCity})",
                $"[tool result] {WeatherPlugin.GetWeather(TinyChatScript.WeatherCity)}",
                TinyChatScript.WeatherAnswer,
            ],
            lines);
    }

    [Fact]
    public async Task The_sample_explains_a_missing_model_folder_and_fails()
    {
        var (exitCode, _, error) = await RunSampleAsync("--Eagle:ModelPath", "/no/such/model");

        Assert.Equal(1, exitCode);
        Assert.Contains("EagleOptions.ModelPath '/no/such/model' does not exist", error, StringComparison.Ordinal);
    }

    // Runs the sample's entry point in this process (its Main is compiler-generated, so it is reached through the assembly).
    private static async Task<(int ExitCode, string Output, string Error)> RunSampleAsync(params string[] args)
    {
        var main = typeof(WeatherAgent).Assembly.EntryPoint!;
        var (output, error) = (new StringWriter(), new StringWriter());
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            // The entry point of an async program is the synchronous wrapper that waits for it, so run it off this thread.
            int exitCode = await Task.Run(() => (int)main.Invoke(null, [args])!);
            return (exitCode, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
