using System.Globalization;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>Decoder layers <see cref="First"/>..<see cref="Last"/> (inclusive) on <see cref="Device"/>.</summary>
internal sealed record LayerSegment(Device Device, int First, int Last);

/// <summary>
/// Which device holds which decoder layers, for a model too big for one GPU: <c>cuda:0=0-15;cuda:1=16-31</c>. The
/// embedding, final norm and lm_head stay on the model's home device (the first segment's); the hidden state moves to a
/// segment's device when it enters the segment and back home after the last layer, so everything outside the model
/// (sampling, drafting, acceptance) sees one device. Each layer's KV cache lives with the layer.
/// </summary>
public sealed class LayerPlacement
{
    private LayerPlacement(IReadOnlyList<LayerSegment> segments) => Segments = segments;

    /// <summary>The segments in layer order; together they cover every layer once.</summary>
    internal IReadOnlyList<LayerSegment> Segments { get; }

    /// <summary>The first segment's device: embedding, final norm, lm_head and the draft head live there.</summary>
    public Device Home => Segments[0].Device;

    /// <summary>All <paramref name="layers"/> layers on <paramref name="device"/>.</summary>
    public static LayerPlacement Single(Device device, int layers) => new([new LayerSegment(device, 0, layers - 1)]);

    /// <summary>
    /// Parses <c>device=first-last[;device=first-last…]</c> (devices as <see cref="TorchRuntime.ParseDevice"/> takes them;
    /// a single layer may be written <c>device=N</c>). The ranges must start at layer 0 and follow each other without gaps
    /// or overlaps; whether they cover a model's layers is known once there is a model (<see cref="Mismatch"/>).
    /// </summary>
    /// <exception cref="FormatException">The text is malformed, the ranges do not follow each other or a device is unusable; the message quotes the part at fault.</exception>
    public static LayerPlacement Parse(string spec)
    {
        var segments = new List<LayerSegment>();
        foreach (var (part, device, first, last) in Read(spec))
        {
            try
            {
                segments.Add(new LayerSegment(TorchRuntime.ParseDevice(device), first, last));
            }
            catch (ArgumentException e)
            {
                throw Bad(spec, $"'{part}': {e.Message}");
            }
        }
        return new LayerPlacement(segments);
    }

    /// <summary>
    /// Checks <paramref name="spec"/> as <see cref="Parse"/> does, except that devices are only spelled, not resolved: it
    /// loads no runtime and asks no hardware, so options can be checked before anything loads.
    /// </summary>
    /// <returns>The first segment's device as written (the home device).</returns>
    /// <exception cref="FormatException">As <see cref="Parse"/>, for everything but the hardware.</exception>
    internal static string Check(string spec) => Read(spec)[0].Device;

    /// <summary>Why this placement does not fit a model of <paramref name="layers"/> decoder layers, or null when it covers them exactly.</summary>
    internal string? Mismatch(int layers)
    {
        var last = Segments[^1];
        if (last.Last >= layers) return $"'{last.Device}={last.First}-{last.Last}' ends beyond the model's {layers} layers (0..{layers - 1})";
        return last.Last < layers - 1 ? $"layers {last.Last + 1}..{layers - 1} are not placed (the model has {layers})" : null;
    }

    /// <summary>The device of decoder layer <paramref name="layer"/>.</summary>
    public Device DeviceOf(int layer) => Segments.First(s => layer >= s.First && layer <= s.Last).Device;

    /// <inheritdoc/>
    public override string ToString() => string.Join(';', Segments.Select(s => $"{s.Device}={s.First}-{s.Last}"));

    // The segments as written, checked for everything but the hardware: the one reading of the text.
    private static List<(string Part, string Device, int First, int Last)> Read(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var segments = new List<(string, string, int, int)>();
        int next = 0;
        foreach (string part in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw Bad(spec, $"'{part}' is not device=first-last");
            string device = part[..eq].Trim();
            if (!TorchRuntime.IsDeviceSpelling(device)) throw Bad(spec, $"'{part}': device '{device}': expected auto, cpu, cuda or cuda:N");
            string range = part[(eq + 1)..].Trim();
            int dash = range.IndexOf('-', StringComparison.Ordinal);
            if (!TryLayer(dash < 0 ? range : range[..dash], out int first) || !TryLayer(dash < 0 ? range : range[(dash + 1)..], out int last))
                throw Bad(spec, $"'{range}' is not a layer range like 0-15");
            if (first != next) throw Bad(spec, $"'{part}' starts at layer {first}, but the next unplaced layer is {next}");
            if (last < first) throw Bad(spec, $"'{part}': the range must be ascending");
            segments.Add((part, device, first, last));
            next = last + 1;
        }
        if (segments.Count == 0) throw Bad(spec, "no segment");
        return segments;
    }

    private static bool TryLayer(string text, out int layer) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out layer);

    private static FormatException Bad(string spec, string why) =>
        new($"layer placement '{spec}': {why}. Expected device=first-last segments separated by ';', e.g. cuda:0=0-15;cuda:1=16-31.");
}
