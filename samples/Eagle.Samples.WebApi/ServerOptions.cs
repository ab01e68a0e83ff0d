namespace Eagle.Samples.WebApi;

/// <summary>
/// The <c>Server</c> configuration section: what it takes to put this server on a network. Every key can be set in
/// <c>appsettings.json</c>, the environment (<c>Server__ApiKeys__0=…</c>) or the command line (<c>--Server:MaxTokens=2048</c>).
/// </summary>
public sealed class ServerOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "Server";

    /// <summary>Keys a client must send as <c>Authorization: Bearer KEY</c>; empty = no authentication. <c>/health</c> stays open.</summary>
    public IList<string> ApiKeys { get; } = [];

    /// <summary>Largest request body accepted; a larger one is a 413. Default 4 MiB (a full 128K-token prompt is about 0.5 MB of text).</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Longest a request may take, queueing included; then it is cancelled (504, or an error event on a stream). 0 = no limit. Default 600.</summary>
    public double RequestTimeoutSeconds { get; set; } = 600;

    /// <summary>The answer budget of a request that sets no <c>max_tokens</c>/<c>max_completion_tokens</c>. Default 1024; 0 = the engine's default (<c>Eagle:MaxOutputTokens</c>, else the rest of the context).</summary>
    public int DefaultMaxTokens { get; set; } = 1024;

    /// <summary>Largest <c>max_tokens</c>/<c>max_completion_tokens</c> a request may ask for (a larger one is a 400). Default 4096; 0 = no cap.</summary>
    public int MaxTokens { get; set; } = 4096;

    /// <summary>How often a stream that waits (in the engine's queue, or between tokens) gets an SSE comment, so proxies and clients do not cut it. Default 15.</summary>
    public double KeepAliveSeconds { get; set; } = 15;

    /// <summary>Origins that browsers may call this server from (CORS); empty = none (CORS off).</summary>
    public IList<string> CorsOrigins { get; } = [];

    /// <summary>Requests per minute each API key (each client address when there are no keys) may make to <c>/v1</c>; beyond it, a 429. 0 = no limit (the default).</summary>
    public int RequestsPerMinute { get; set; }

    /// <summary>The first thing wrong with these options, or null.</summary>
    internal string? Problem() =>
        MaxRequestBodyBytes < 1 ? "Server:MaxRequestBodyBytes must be at least 1."
        : !(RequestTimeoutSeconds >= 0 && RequestTimeoutSeconds <= 86400) ? "Server:RequestTimeoutSeconds must be between 0 (no limit) and 86400 (a day)."
        : DefaultMaxTokens < 0 ? "Server:DefaultMaxTokens must be 0 (the engine's default) or more."
        : MaxTokens < 0 ? "Server:MaxTokens must be 0 (no cap) or more."
        : MaxTokens > 0 && DefaultMaxTokens > MaxTokens ? $"Server:DefaultMaxTokens ({DefaultMaxTokens}) must not exceed Server:MaxTokens ({MaxTokens})."
        : !(KeepAliveSeconds > 0 && KeepAliveSeconds <= 3600) ? "Server:KeepAliveSeconds must be more than 0 and at most 3600."
        : RequestsPerMinute < 0 ? "Server:RequestsPerMinute must be 0 (no limit) or more."
        : ApiKeys.Any(string.IsNullOrWhiteSpace) ? "Server:ApiKeys must not hold an empty key."
        : null;
}
