using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Eagle.Samples.Tests;

/// <summary>Stopping the server (what SIGTERM does) ends running generations and tells open streams why, over real HTTP.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Shutdown_cancels_a_running_stream_and_ends_it_with_an_error_event()
    {
        using var server = ScriptedServer.OnLoopback();
        using var http = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Http.ChatCompletions)
        {
            Content = new StringContent($$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.Endless}}"}],"stream":true}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        string rest = await reader.ReadToEndAsync();
        // Without the cancellation the stream would run on (15 s of words) until the host's shutdown timeout.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed}");
        var events = Sse.Events(rest.TrimStart('\n'));
        Assert.DoesNotContain(Sse.Done, events);
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("server_shutting_down", error.GetProperty("code").GetString());
        Assert.Contains(server.Logs.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("cancelled: the server is shutting down", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_that_goes_away_leaves_a_log_line()
    {
        using var server = ScriptedServer.OnLoopback();
        using (var http = server.CreateClient())
        {
            // The client leaves once its answer is running (its first event has arrived), however slow the machine.
            using var request = new HttpRequestMessage(HttpMethod.Post, Http.ChatCompletions)
            {
                Content = new StringContent($$"""{"messages":[{"role":"user","content":"{{ScriptedChatClient.Endless}}"}],"stream":true}""",
                    System.Text.Encoding.UTF8, "application/json"),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            string? first;
            while ((first = await reader.ReadLineAsync()) is not null && !first.StartsWith("data: ", StringComparison.Ordinal)) { }
            Assert.NotNull(first);
        }
        for (int i = 0; i < 200 && !server.Logs.Lines.Any(Gone); i++) await Task.Delay(50);
        Assert.Contains(server.Logs.Lines, Gone);

        static bool Gone(LogCollector.LogLine l) => l.Message.Contains("cancelled: the client went away", StringComparison.Ordinal);
    }
}
