using System.Diagnostics;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Wall-clock timing of work on a device. CUDA runs asynchronously, so a timed region is synchronized on both sides
/// (elsewhere that is a no-op); without it a GPU measurement times the kernel launches, not the kernels. The costs
/// measured at load, the bandwidth probe and the CLI's bench all time through here.
/// </summary>
internal static class DeviceClock
{
    /// <summary>Waits for the work queued on <paramref name="device"/> (CUDA); nothing to wait for elsewhere.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Milliseconds one run of <paramref name="action"/> takes on <paramref name="device"/>, to the end of its work there.</summary>
    public static double Time(Device device, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        action();
        Synchronize(device);
        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>The fastest of <paramref name="runs"/> timed runs of <paramref name="action"/>, after one untimed warm-up run.</summary>
    public static double Best(Device device, int runs, Action action)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(runs);
        Time(device, action);
        double best = double.MaxValue;
        for (int i = 0; i < runs; i++) best = Math.Min(best, Time(device, action));
        return best;
    }
}
