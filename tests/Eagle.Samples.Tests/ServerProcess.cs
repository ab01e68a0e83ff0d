using System.Diagnostics;
using System.Text;

namespace Eagle.Samples.Tests;

/// <summary>The WebApi sample as its own process (<c>dotnet Eagle.Samples.WebApi.dll …</c>), for what only a process shows: its exit code, its signals.</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new(), errors = new();
    private readonly TaskCompletionSource<Uri> listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServerProcess(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Eagle.Samples.WebApi.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // Plain console lines, whatever the test runner's environment says.
        start.Environment["Logging__Console__FormatterName"] = "simple";
        process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            const string Marker = "Now listening on: ";
            int at = e.Data.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0) listening.TrySetResult(new Uri(e.Data[(at + Marker.Length)..].Trim()));
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (errors) errors.AppendLine(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output { get { lock (output) return output.ToString(); } }

    public string Errors { get { lock (errors) return errors.ToString(); } }

    /// <summary>The address Kestrel logged (<c>--urls http://127.0.0.1:0</c> picks a free port).</summary>
    public async Task<Uri> ListeningAsync(TimeSpan timeout)
    {
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(timeout));
        if (first != listening.Task)
            throw new InvalidOperationException($"The server did not start listening.\nstdout:\n{Output}\nstderr:\n{Errors}");
        return await listening.Task;
    }

    /// <summary>The exit code, once the process has ended (or fails the test after <paramref name="timeout"/>).</summary>
    public async Task<int> ExitCodeAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        process.WaitForExit();   // the output handlers have run
        return process.ExitCode;
    }

    /// <summary>What a service manager (systemd, Docker, Kubernetes) sends to stop it.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
