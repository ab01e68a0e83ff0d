using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Runtime;

/// <summary>The one timing helper of the load-time measurements and the bench: what it runs and what it counts.</summary>
public class DeviceClockTests
{
    [Fact]
    public void Best_runs_one_untimed_warm_up_then_the_timed_runs_and_returns_one_of_them()
    {
        int calls = 0;
        // every timed run takes at least 20 ms; only the warm-up is instant, so a result under 20 ms would have counted it
        double best = DeviceClock.Best(CPU, 3, () => { if (calls++ > 0) Thread.Sleep(20); });
        Assert.Equal(4, calls);
        Assert.True(best >= 19.5, $"best {best} ms is below every timed run");
        Assert.True(DeviceClock.Time(CPU, () => Thread.Sleep(5)) >= 4.5);
        Assert.Throws<ArgumentOutOfRangeException>(() => DeviceClock.Best(CPU, 0, () => { }));
    }
}
