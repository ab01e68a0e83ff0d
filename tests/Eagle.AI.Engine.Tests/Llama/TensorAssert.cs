using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

internal static class TensorAssert
{
    public static double[][] Rows(Tensor t)
    {
        using var c = t.to(ScalarType.Float64, CPU).contiguous();
        var flat = c.data<double>().ToArray();
        int cols = (int)c.shape[^1];
        return Enumerable.Range(0, flat.Length / cols).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }

    /// <summary>max |a − b| over max |b|.</summary>
    public static double RelativeError(double[][] a, double[][] b)
    {
        Assert.Equal(b.Length, a.Length);
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(b[i].Length, a[i].Length);
            for (int j = 0; j < a[i].Length; j++)
            {
                num = Math.Max(num, Math.Abs(a[i][j] - b[i][j]));
                den = Math.Max(den, Math.Abs(b[i][j]));
            }
        }
        return num / den;
    }

    public static void Close(double[][] actual, double[][] expected, double tol = 1e-4, string what = "")
    {
        double err = RelativeError(actual, expected);
        Assert.True(err < tol, $"{what}: relative error {err:E3} ≥ {tol:E1}");
    }
}
