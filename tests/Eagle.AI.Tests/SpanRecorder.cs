using System.Collections.Concurrent;
using System.Diagnostics;

namespace Eagle.AI.Tests;

/// <summary>
/// Records the stopped activities of the given <see cref="ActivitySource"/> instances only (an <see cref="ActivityListener"/>
/// is process-wide; each engine has its own source, so parallel tests cannot leak in).
/// </summary>
internal sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener listener;
    private readonly ConcurrentQueue<Activity> stopped = new();

    public SpanRecorder(params ActivitySource[] sources)
    {
        listener = new ActivityListener
        {
            ShouldListenTo = s => sources.Contains(s),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
    }

    public IReadOnlyList<Activity> Stopped => [.. stopped];

    /// <summary>Every tag and event-tag value of the recorded spans, as text.</summary>
    public IEnumerable<string> Texts => stopped.SelectMany(a => a.TagObjects.Select(t => t.Value)
            .Concat(a.Events.SelectMany(e => e.Tags.Select(t => t.Value))))
        .Select(v => v is Array array ? string.Join(" ", array.Cast<object>()) : v?.ToString() ?? "")
        .Concat(stopped.Select(a => a.DisplayName)).Concat(stopped.Select(a => a.StatusDescription ?? ""));

    public void Dispose() => listener.Dispose();
}
