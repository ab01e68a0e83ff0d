namespace Eagle.AI;

/// <summary>
/// The names under which every <see cref="EagleEngine"/> publishes its metrics and traces (System.Diagnostics only, so
/// the library needs no OpenTelemetry package): an app collects them with OpenTelemetry's <c>AddMeter(EagleTelemetry.MeterName)</c>
/// and <c>AddSource(EagleTelemetry.ActivitySourceName)</c>, or with a <c>MeterListener</c> / <c>ActivityListener</c>.
/// </summary>
/// <remarks>
/// <para>Metrics follow the OpenTelemetry GenAI semantic conventions: <c>gen_ai.server.request.duration</c>,
/// <c>gen_ai.server.time_to_first_token</c>, <c>gen_ai.server.time_per_output_token</c> (seconds) and
/// <c>gen_ai.client.token.usage</c> (<c>gen_ai.token.type</c> <c>input</c> / <c>output</c>), with
/// <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c> (<see cref="ProviderName"/>), <c>gen_ai.request.model</c>,
/// <c>gen_ai.response.model</c> and, for a failed request, <c>error.type</c>. The engine's own: <c>eagle.decode.acceptance_length</c>
/// (tokens per decoding round), <c>eagle.decode.rounds</c>, <c>eagle.decode.accepted_draft_tokens</c>,
/// <c>eagle.step.prefill_tokens</c> and <c>eagle.step.verify_tokens</c> (per scheduler step), the gauges
/// <c>eagle.requests.queued</c>, <c>eagle.requests.active</c>, <c>eagle.kv_cache.positions</c> (positions the running
/// requests' KV caches hold) and <c>eagle.prefix_cache.positions</c>, and the counter <c>eagle.prefix_cache.reused_tokens</c>.</para>
/// <para>Each request is a span named <c>chat {model}</c> (kind internal: the model runs in this process) with the child
/// spans <c>eagle.queue</c>, <c>eagle.prefill</c> and <c>eagle.decode</c>. No prompt or answer text is recorded unless
/// <see cref="EagleOptions.RecordContent"/> is set; then it goes on the request span's events only.</para>
/// </remarks>
public static class EagleTelemetry
{
    /// <summary>The name of every engine's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Eagle.AI";

    /// <summary>The name of every engine's <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string ActivitySourceName = "Eagle.AI";

    /// <summary>The <c>gen_ai.provider.name</c> the engine reports (also <c>ChatClientMetadata.ProviderName</c>).</summary>
    public const string ProviderName = "eagle";
}
