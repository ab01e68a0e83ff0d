using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Eagle.AI.Testing;
using Eagle.Samples.Console;

namespace Eagle.Samples.Tests;

/// <summary>
/// The samples switched to remote mode by configuration alone (<c>Eagle:Endpoint</c>, <c>Eagle:ModelId</c>,
/// <c>Eagle:ApiKey</c>, and the model folder of their appsettings.json cleared), talking to the WebApi sample on loopback.
/// </summary>
[Collection(RemoteTinyChatCollection.Name)]
public sealed partial class RemoteModeSampleTests(RemoteTinyChat server)
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(2);

    [GeneratedRegex(@"^\[(\d+) prompt \+ (\d+) answer tokens in ([\d.]+) s: ([\d.]+) tokens/s, τ n/a\]$")]
    private static partial Regex RemoteStatsLine();

    [Fact]
    public async Task The_console_sample_chats_with_the_server_and_has_no_tau_to_show()
    {
        string[] args =
        [
            "--endpoint", server.Endpoint.ToString(), "--model-id", TinyChatServer.ModelId, "--api-key", RemoteTinyChat.ApiKey,
            // appsettings.json names a model folder: in remote mode it must be cleared (they are mutually exclusive).
            "--model=", "--draft=",
        ];
        var output = new StringWriter { NewLine = "\n" };

        int code = await ChatConsole.RunAsync(args, new StringReader(TinyChatScript.GreetingQuestion + "\n" + TinyChatScript.CapitalQuestion), output);

        Assert.Equal(0, code);
        var lines = output.ToString().Split('\n', StringSplitOptions.TrimEntries);
        Assert.Equal($"Chatting with {TinyChatServer.ModelId}. /reset clears the conversation, /exit quits.", lines[0]);
        Assert.Contains("> " + TinyChatScript.GreetingAnswer, lines);
        Assert.Contains("> " + TinyChatScript.CapitalAnswer, lines);
        // Usage crosses the API; the EAGLE counters (τ) do not.
        Assert.Equal(2, lines.Count(l => RemoteStatsLine().Match(l) is { Success: true } m && int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) > 3));
    }

    [Fact]
    public async Task The_console_sample_survives_a_server_error_and_takes_the_next_question()
    {
        string[] args = ["--endpoint", server.Endpoint.ToString(), "--model-id", TinyChatServer.ModelId, "--api-key", "wrong-key", "--model=", "--draft="];
        var output = new StringWriter { NewLine = "\n" };

        // Both questions get a 401 (reported on stderr); the loop goes on to the end of input instead of throwing.
        int code = await ChatConsole.RunAsync(args, new StringReader(TinyChatScript.GreetingQuestion + "\n" + TinyChatScript.CapitalQuestion), output);

        Assert.Equal(0, code);
        var lines = output.ToString().Split('\n', StringSplitOptions.TrimEntries);
        Assert.DoesNotContain(lines, l => l.StartsWith('['));   // no answer, so no statistics
        Assert.Equal(3, lines.Count(l => l.StartsWith('>')));   // two questions and the prompt left at the end of input
    }

    [Fact]
    public async Task The_console_sample_refuses_a_model_folder_beside_an_endpoint()
    {
        var output = new StringWriter();
        int code = await ChatConsole.RunAsync(["--endpoint", server.Endpoint.ToString(), "--model-id", TinyChatServer.ModelId, "--draft="],
            new StringReader(TinyChatScript.GreetingQuestion), output);
        Assert.Equal(1, code);   // appsettings.json's ModelPath is still set: "mutually exclusive" on stderr
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task The_WebApi_sample_as_a_process_in_remote_mode_serves_the_remote_model()
    {
        // The WebApi in front of another OpenAI-compatible server: a gateway with its own keys, limits and logs.
        using var gateway = new ServerProcess(TinyChatModel.RepoRoot, $"--Eagle:Endpoint={server.Endpoint}", "--Eagle:ModelPath=",
            $"--Eagle:ModelId={TinyChatServer.ModelId}", $"--Eagle:ApiKey={RemoteTinyChat.ApiKey}", "--urls=http://127.0.0.1:0");
        var address = await gateway.ListeningAsync(ProcessTimeout);
        using var http = new HttpClient { BaseAddress = address };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        string question = JsonSerializer.Serialize(TinyChatScript.CapitalQuestion);
        var body = await (await http.PostJsonAsync($$"""{"model":"{{TinyChatServer.ModelId}}","messages":[{"role":"user","content":{{question}}}]}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatScript.CapitalAnswer, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.True(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 3);

        gateway.Terminate();
        Assert.Equal(0, await gateway.ExitCodeAsync(ProcessTimeout));
        Assert.Contains($"Remote mode: model {TinyChatServer.ModelId} on the OpenAI-compatible server at {server.Endpoint}", gateway.Output, StringComparison.Ordinal);
    }
}
