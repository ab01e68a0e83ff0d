namespace Eagle.Samples.WebApi.Telemetry;

/// <summary>
/// The <c>Telemetry</c> configuration section: where the engine's OpenTelemetry metrics and traces go. <c>/metrics</c>
/// (Prometheus text) is always served; OTLP export is on when an endpoint is configured.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "Telemetry";

    /// <summary>The path of the Prometheus scraping endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Whether <c>/metrics</c> asks for an API key (<c>Server:ApiKeys</c>) like <c>/v1</c> does. Default false: the
    /// metrics hold counts, timings and the model id, never prompts or answers, and Prometheus scrapes are usually kept
    /// to an internal network (publish only <c>/v1</c> through the ingress); set it when the port itself is public.
    /// A scraper then sends the key as <c>authorization: { credentials: KEY }</c> (Bearer).
    /// </summary>
    public bool MetricsRequireApiKey { get; set; }

    /// <summary>
    /// An OTLP collector (e.g. <c>http://otel-collector:4317</c>) to push metrics and traces to; the same as the standard
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (which also works, with the other <c>OTEL_EXPORTER_OTLP_*</c> variables). Null
    /// = no OTLP export and no tracing at all.
    /// </summary>
    public string? OtlpEndpoint { get; set; }
}
