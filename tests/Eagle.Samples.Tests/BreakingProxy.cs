using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Eagle.Samples.Tests;

/// <summary>
/// A loopback TCP proxy in front of a server that passes each response on only up to the end of its first server-sent
/// <c>data:</c> event and then closes the connection (to the client, a server that went away in the middle of a
/// stream) or, with <c>stall</c>, keeps it open and sends nothing more (a server that hangs). Where it breaks is fixed
/// by the bytes, not by timing.
/// </summary>
internal sealed class BreakingProxy : IDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly Uri upstream;
    private readonly bool stall;
    private readonly CancellationTokenSource stop = new();

    public BreakingProxy(Uri upstream, bool stall = false)
    {
        this.upstream = upstream;
        this.stall = stall;
        listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>The proxy's base address (<c>http://127.0.0.1:port/</c>).</summary>
    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");

    /// <summary>How many responses were cut.</summary>
    public int Broken => Volatile.Read(ref broken);

    private int broken;

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            using (client)
            using (var server = new TcpClient())
            {
                await server.ConnectAsync(upstream.Host, upstream.Port, stop.Token);
                var (toClient, toServer) = (client.GetStream(), server.GetStream());
                _ = toClient.CopyToAsync(toServer, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                var response = new StringBuilder();
                var buffer = new byte[4096];
                while (true)
                {
                    int read = await toServer.ReadAsync(buffer, stop.Token);
                    if (read == 0) return;
                    for (int i = 0; i < read; i++)
                    {
                        response.Append((char)buffer[i]);
                        if (EndsFirstDataEvent(response))
                        {
                            await toClient.WriteAsync(buffer.AsMemory(0, i + 1), stop.Token);
                            Interlocked.Increment(ref broken);
                            if (stall) await Task.Delay(Timeout.Infinite, stop.Token);   // until the test ends
                            return;   // disposing both connections: the client's stream ends mid-body
                        }
                    }
                    await toClient.WriteAsync(buffer.AsMemory(0, read), stop.Token);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // the test is over, or the client went first
        }
    }

    // After the headers, the body holds a "data:" line and has just ended an event (a blank line). Chunk framing uses
    // CRLF, so "\n\n" inside the body is the end of a server-sent event.
    private static bool EndsFirstDataEvent(StringBuilder response)
    {
        if (response.Length < 2 || response[^1] != '\n' || response[^2] != '\n') return false;
        string text = response.ToString();
        int body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return body >= 0 && text.IndexOf("data:", body, StringComparison.Ordinal) >= 0;
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
        stop.Dispose();
    }
}
