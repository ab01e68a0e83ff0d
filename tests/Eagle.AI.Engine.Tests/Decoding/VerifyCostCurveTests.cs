using Eagle.AI.Engine.Decoding;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

public class VerifyCostCurveTests
{
    [Fact]
    public void A_flat_curve_picks_the_biggest_tree_and_a_steep_one_the_smallest()
    {
        var gpuLike = new VerifyCostCurve([(1, 10.0), (8, 10.1), (16, 10.2), (32, 10.5), (60, 11.0), (64, 11.1)]);
        var cpuLike = new VerifyCostCurve([(1, 10.0), (8, 30), (16, 55), (32, 105), (60, 190), (64, 200)]);
        Assert.Equal(60, gpuLike.Choose());
        Assert.Equal(8, cpuLike.Choose());
        Assert.Equal(12.5, new VerifyCostCurve([(8, 10.0), (16, 15.0)]).Milliseconds(12), 6);
    }

    [Fact]
    public void Measuring_a_real_model_gives_one_point_per_size()
    {
        using var m = TestModels.Create("A");
        var curve = VerifyCostCurve.Measure(m, [1, 8], repeats: 2);
        Assert.Equal([1, 8], curve.Points.Select(p => p.Tokens));
        Assert.All(curve.Points, p => Assert.True(p.Milliseconds > 0));
        Assert.Equal(1.0, curve.Ratios().First().RatioToOne, 9);
    }
}
