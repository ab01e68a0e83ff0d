using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Eagle.AI.Tests;

/// <summary>
/// Records the measurements of one <see cref="Meter"/> instance. A <see cref="MeterListener"/> is process-wide, so it
/// enables only that meter's instruments: engines of tests running in parallel (each has its own meter) cannot leak in.
/// </summary>
internal sealed class InstrumentRecorder : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentQueue<Measurement> measurements = new();

    public InstrumentRecorder(Meter meter)
        : this(m => m == meter)
    {
    }

    /// <summary>Records every meter <paramref name="listenTo"/> accepts, also those created later (filter the measurements then).</summary>
    public InstrumentRecorder(Func<Meter, bool> listenTo)
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (listenTo(instrument.Meter)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        listener.Start();
    }

    public sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>The measurements of <paramref name="instrument"/> so far.</summary>
    public IReadOnlyList<Measurement> Of(string instrument) => [.. measurements.Where(m => m.Instrument == instrument)];

    /// <summary>The values of <paramref name="instrument"/> so far.</summary>
    public IReadOnlyList<double> Values(string instrument) => [.. Of(instrument).Select(m => m.Value)];

    /// <summary>Reads every observable gauge now; returns each one's latest value.</summary>
    public IReadOnlyDictionary<string, double> Gauges()
    {
        var before = measurements.Count;
        listener.RecordObservableInstruments();
        return measurements.Skip(before).GroupBy(m => m.Instrument).ToDictionary(g => g.Key, g => g.Last().Value);
    }

    /// <summary>Every tag value recorded, as text.</summary>
    public IEnumerable<string> TagTexts => measurements.SelectMany(m => m.Tags.Values).Select(v => v?.ToString() ?? "");

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags) copy[tag.Key] = tag.Value;
        measurements.Enqueue(new Measurement(instrument.Name, value, copy));
    }

    public void Dispose() => listener.Dispose();
}
