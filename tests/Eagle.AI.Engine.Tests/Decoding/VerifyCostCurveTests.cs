using Eagle.AI.Engine.Decoding;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

public class VerifyCostCurveTests
{
    [Fact]
    public void Between_points_the_cost_is_interpolated_below_them_clamped_and_above_them_extended()
    {
        var curve = new VerifyCostCurve([(8, 10.0), (16, 15.0)]);
        Assert.Equal(12.5, curve.Milliseconds(12), 6);
        Assert.Equal(10.0, curve.Milliseconds(1), 6);
        Assert.Equal(45.0, curve.Milliseconds(64), 6);                  // a batch's forward past the last point: the last slope
        Assert.Equal(15.0, new VerifyCostCurve([(8, 15.0), (16, 15.0)]).Milliseconds(64), 6);
    }

    [Fact]
    public void Measuring_a_real_model_gives_one_non_decreasing_point_per_size()
    {
        using var m = TestModels.Create("A");
        var curve = VerifyCostCurve.Measure(m, [8, 1, 2, 8], repeats: 2);
        Assert.Equal([1, 2, 8], curve.Points.Select(p => p.Tokens));
        Assert.All(curve.Points, p => Assert.True(p.Milliseconds > 0));
        Assert.Equal(1.0, curve.Ratios().First().RatioToOne, 9);
        // a tiny model's forwards are all about the same: noise must not make a bigger one cheaper
        Assert.True(curve.Points.Zip(curve.Points.Skip(1)).All(p => p.Second.Milliseconds >= p.First.Milliseconds));
    }
}
