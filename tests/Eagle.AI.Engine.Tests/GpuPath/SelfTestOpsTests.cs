using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.GpuPath;

public class SelfTestOpsTests
{
    [Fact]
    public void Every_op_check_passes_on_the_cpu_in_fp32()
    {
        var rows = SelfTestOps.Run(CPU, ScalarType.Float32);
        Assert.Equal(12, rows.Count);
        Assert.All(rows, r => Assert.True(r.Outcome == SelfTestOutcome.Pass, $"{r.Check}: {r.Measured}"));
    }

    [Fact]
    public void Relative_error_is_scaled_by_the_reference_and_nan_never_passes()
    {
        using var expected = tensor(new float[] { 10, -20, 5 });
        using var actual = tensor(new float[] { 10, -19, 5 });
        Assert.Equal(0.05, SelfTestTolerance.RelativeError(actual, expected), 12);
        using var nan = tensor(new float[] { 10, float.NaN, 5 });
        double e = SelfTestTolerance.RelativeError(nan, expected);
        Assert.True(double.IsNaN(e));
        Assert.Equal(SelfTestOutcome.Fail, SelfTestResult.Within("x", e, 1).Outcome);
        using var wrongShape = tensor(new float[] { 10, -20 });
        Assert.Throws<ArgumentException>(() => SelfTestTolerance.RelativeError(wrongShape, expected));
    }

    [Fact]
    public void A_throwing_check_becomes_a_failed_row()
    {
        var row = SelfTestResult.Guard("op boom", () => throw new InvalidOperationException("no kernel"));
        Assert.Equal(SelfTestOutcome.Fail, row.Outcome);
        Assert.Contains("no kernel", row.Measured);
    }

    [Fact]
    public void Tokens_must_match_only_in_full_precision()
    {
        Assert.True(SelfTestTolerance.TokensMustMatch(ScalarType.Float32));
        Assert.False(SelfTestTolerance.TokensMustMatch(ScalarType.Float16));
        Assert.False(SelfTestTolerance.TokensMustMatch(ScalarType.BFloat16));
        Assert.True(SelfTestTolerance.Model(ScalarType.Float16) > SelfTestTolerance.Model(ScalarType.Float32));
    }
}
