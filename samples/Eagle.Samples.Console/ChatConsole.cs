using System.Diagnostics;
using Eagle.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Eagle.Samples.Console;

/// <summary>
/// The chat loop: loads the model named by configuration (appsettings.json beside the app, environment variables,
/// then the command line) or, with <c>Eagle:Endpoint</c>, uses that OpenAI-compatible server; then reads a line,
/// streams the answer, prints its <see cref="AnswerStats"/>, and keeps the conversation. <c>/reset</c> forgets it;
/// <c>/exit</c> or the end of input quits.
/// </summary>
public static class ChatConsole
{
    public const string ExitCommand = "/exit";
    public const string ResetCommand = "/reset";

    /// <summary>Short spellings of the common settings; any <c>--Eagle:Name=value</c> works too.</summary>
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--model"] = "Eagle:ModelPath",
        ["--draft"] = "Eagle:DraftModelPath",
        ["--device"] = "Eagle:Device",
        ["--dtype"] = "Eagle:DType",
        ["--endpoint"] = "Eagle:Endpoint",
        ["--api-key"] = "Eagle:ApiKey",
        ["--model-id"] = "Eagle:ModelId",
    };

    /// <summary>Runs the chat until <c>/exit</c> or the end of <paramref name="input"/>.</summary>
    /// <param name="args">Command-line settings (see <see cref="Switches"/>).</param>
    /// <param name="input">Where the user's lines come from.</param>
    /// <param name="output">Where prompts, answers and statistics go; loading progress and errors are logged to stderr.</param>
    /// <returns>0, or 1 when the settings are invalid or the model cannot load.</returns>
    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var host = BuildHost(args);
        IChatClient client;
        try
        {
            // Making the client validates the options and loads the model (and warms up, with Warmup) here, so its
            // progress is logged before the first question rather than in the middle of it; with Eagle:Endpoint it
            // loads nothing and talks to that server. The host is not started: its console lifetime would take Ctrl+C,
            // which should simply end a REPL.
            client = host.Services.GetRequiredService<IChatClient>();
        }
        catch (Exception e) when (e is OptionsValidationException or IOException or InvalidOperationException
            or Eagle.AI.Engine.Runtime.TorchRuntimeException or Eagle.AI.Engine.Checkpoints.CheckpointException)
        {
            await System.Console.Error.WriteLineAsync("Cannot start: " + e.Message).ConfigureAwait(false);
            return 1;
        }

        string model = client.GetService<ChatClientMetadata>()?.DefaultModelId ?? "the model";
        await output.WriteLineAsync($"Chatting with {model}. {ResetCommand} clears the conversation, {ExitCommand} quits.").ConfigureAwait(false);
        var history = new List<ChatMessage>();
        while (true)
        {
            await output.WriteAsync("> ").ConfigureAwait(false);
            await output.FlushAsync().ConfigureAwait(false);
            string? line = await input.ReadLineAsync().ConfigureAwait(false);
            if (line is null || line.Trim() == ExitCommand) break;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line == ResetCommand)
            {
                history.Clear();
                await output.WriteLineAsync("(conversation cleared)").ConfigureAwait(false);
                continue;
            }
            history.Add(new ChatMessage(ChatRole.User, line));
            try
            {
                await AnswerAsync(client, history, output).ConfigureAwait(false);
            }
            catch (ChatServerException e)
            {
                // Remote mode: the server refused or broke off; say why and let the user ask again.
                history.RemoveAt(history.Count - 1);
                await output.WriteLineAsync().ConfigureAwait(false);
                await System.Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            }
        }
        return 0;
    }

    /// <summary>Streams one answer to <paramref name="output"/>, adds it to the history, and prints its statistics.</summary>
    private static async Task AnswerAsync(IChatClient client, List<ChatMessage> history, TextWriter output)
    {
        var clock = Stopwatch.StartNew();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(history).ConfigureAwait(false))
        {
            updates.Add(update);
            await output.WriteAsync(update.Text).ConfigureAwait(false);
            await output.FlushAsync().ConfigureAwait(false);
        }
        clock.Stop();
        var response = updates.ToChatResponse();
        history.AddMessages(response);
        await output.WriteLineAsync().ConfigureAwait(false);
        await output.WriteLineAsync(AnswerStats.From(response.Usage, clock.Elapsed).ToString()).ConfigureAwait(false);
    }

    private static IHost BuildHost(string[] args)
    {
        // appsettings.json is read from beside the app, so the sample runs from any folder.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddCommandLine(args, Switches);
        // Logs (model-load progress included) go to stderr, so stdout holds only the conversation.
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // On a terminal, loading also draws a bar; redirected stderr gets the log lines only.
        if (!System.Console.IsErrorRedirected)
            builder.Services.AddSingleton<IProgress<ModelLoadProgress>>(new LoadProgressBar(System.Console.Error));
        builder.Services.AddEagleChatClient(builder.Configuration.GetSection("Eagle"));
        return builder.Build();
    }
}
