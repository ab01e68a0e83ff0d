using System.Net;
using System.Text.Json;
using Eagle.AI;
using Eagle.AI.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.Tests;

/// <summary>How the server starts: model paths as a command line means them, and failures that say why and end it.</summary>
public sealed class StartupTests
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Model_paths_resolve_against_the_current_directory_and_an_empty_draft_path_turns_the_draft_off()
    {
        using var server = ScriptedServer.OnLoopback("Eagle:ModelPath=models/some-model", "Eagle:DraftModelPath=");
        var options = server.Services.GetRequiredService<IOptions<EagleOptions>>().Value;
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "models", "some-model"), options.ModelPath);
        Assert.Null(options.DraftModelPath);
    }

    [Fact]
    public async Task A_model_that_fails_to_load_is_tried_once_then_every_request_is_503()
    {
        int attempts = 0;
        using var scripted = new ScriptedServer();
        using var broken = scripted.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<IChatClient>();
            services.AddSingleton<IChatClient>(_ =>
            {
                Interlocked.Increment(ref attempts);
                throw new InvalidOperationException("No model in this folder.");
            });
        }));
        using var http = broken.CreateClient();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health")).StatusCode);
            var error = await (await http.PostJsonAsync("""{"messages":[{"role":"user","content":"hi"}]}""")).ErrorAsync(HttpStatusCode.ServiceUnavailable, null);
            Assert.Equal("model_not_loaded", error.GetProperty("code").GetString());
            await (await http.GetAsync("/v1/models")).ErrorAsync(HttpStatusCode.ServiceUnavailable, null);
        }
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task Options_that_do_not_validate_end_the_process_with_one_message_naming_each_and_exit_code_1()
    {
        using var temp = new TempFolder();
        using var server = new ServerProcess(temp.Path, "--Eagle:ModelPath=no-such-model", "--Eagle:Warmup=true",
            "--Server:DefaultMaxTokens=5000", "--Server:MaxTokens=100", "--urls=http://127.0.0.1:0");
        Assert.Equal(1, await server.ExitCodeAsync(ProcessTimeout));
        Assert.Contains("cannot start", server.Errors, StringComparison.Ordinal);
        Assert.Contains("no-such-model", server.Errors, StringComparison.Ordinal);
        Assert.Contains("Server:DefaultMaxTokens (5000) must not exceed Server:MaxTokens (100)", server.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", server.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Weights_that_are_not_finite_are_refused_at_load_naming_the_tensor()
    {
        using var temp = new TempFolder();
        foreach (string file in Directory.EnumerateFiles(TinyChatModel.Folder))
            File.Copy(file, Path.Combine(temp.Path, Path.GetFileName(file)));
        PutNaN(Path.Combine(temp.Path, "model.safetensors"), "model.norm.weight");

        using var server = new ServerProcess(temp.Path, "--Eagle:ModelPath=.", "--Eagle:Device=cpu", "--Eagle:Warmup=true", "--urls=http://127.0.0.1:0");
        Assert.Equal(1, await server.ExitCodeAsync(ProcessTimeout));
        Assert.Contains("model.norm.weight", server.Errors, StringComparison.Ordinal);
        Assert.Contains("NaN or infinite", server.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_READMEs_command_serves_the_tiny_chat_model_and_SIGTERM_stops_it_cleanly()
    {
        // As the README has it, from the repository root, the model folder relative to it.
        string model = Path.GetRelativePath(TinyChatModel.RepoRoot, TinyChatModel.Folder);
        using var server = new ServerProcess(TinyChatModel.RepoRoot, "--Eagle:ModelPath", model, "--Eagle:DraftModelPath", Path.Combine(model, "draft"),
            "--Eagle:Device", "cpu", "--urls", "http://127.0.0.1:0");
        var address = await server.ListeningAsync(ProcessTimeout);
        using var http = new HttpClient { BaseAddress = address };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        string question = JsonSerializer.Serialize(TinyChatScript.CapitalQuestion);
        var body = await (await http.PostJsonAsync($$"""{"messages":[{"role":"user","content":{{question}}}]}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(TinyChatScript.CapitalAnswer, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        server.Terminate();
        Assert.Equal(0, await server.ExitCodeAsync(ProcessTimeout));
    }

    /// <summary>Overwrites a float32 tensor's first value with NaN, in place.</summary>
    private static void PutNaN(string safetensors, string tensor)
    {
        using var file = new FileStream(safetensors, FileMode.Open, FileAccess.ReadWrite);
        var length = new byte[8];
        file.ReadExactly(length);
        long headerLength = BitConverter.ToInt64(length);
        var header = new byte[headerLength];
        file.ReadExactly(header);
        var entry = JsonDocument.Parse(header).RootElement.GetProperty(tensor);
        Assert.Equal("F32", entry.GetProperty("dtype").GetString());
        file.Position = 8 + headerLength + entry.GetProperty("data_offsets")[0].GetInt64();
        file.Write(BitConverter.GetBytes(float.NaN));
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("eagle-webapi-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
