using System.Text.Json;

namespace Eagle.Samples.Tests;

/// <summary>Reads a <c>text/event-stream</c> body as OpenAI writes it: <c>data: …</c> events separated by blank lines.</summary>
internal static class Sse
{
    public const string Done = "[DONE]";

    /// <summary>The data of every event, in order; fails on any line that is not a <c>data:</c> field.</summary>
    public static List<string> Events(string body)
    {
        Assert.EndsWith("\n\n", body, StringComparison.Ordinal);
        var events = new List<string>();
        foreach (string block in body[..^2].Split("\n\n"))
        {
            Assert.StartsWith("data: ", block, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', block);
            events.Add(block["data: ".Length..]);
        }
        return events;
    }

    /// <summary>The JSON chunks before the closing <c>[DONE]</c>, which must be the last event.</summary>
    public static List<JsonElement> Chunks(string body)
    {
        var events = Events(body);
        Assert.Equal(Done, events[^1]);
        Assert.DoesNotContain(Done, events.Take(events.Count - 1));
        return events.Take(events.Count - 1).Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
    }

    /// <summary>All content deltas, joined.</summary>
    public static string Content(IEnumerable<JsonElement> chunks) => string.Concat(chunks
        .SelectMany(c => c.GetProperty("choices").EnumerateArray())
        .Select(c => c.GetProperty("delta"))
        .Where(d => d.TryGetProperty("content", out _))
        .Select(d => d.GetProperty("content").GetString()));
}
