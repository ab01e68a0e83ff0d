namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>Pearson's chi-square goodness of fit, with cells of expected count &lt; 5 merged into one.</summary>
internal static class ChiSquare
{
    public static (double Statistic, int DegreesOfFreedom, double PValue) Test(IReadOnlyDictionary<string, int> observed,
        IReadOnlyDictionary<string, double> probabilities, int n)
    {
        double stat = 0, smallExpected = 0, smallObserved = 0;
        int cells = 0;
        foreach (var (cell, p) in probabilities)
        {
            double e = p * n;
            int o = observed.GetValueOrDefault(cell);
            if (e < 5) { smallExpected += e; smallObserved += o; continue; }
            stat += (o - e) * (o - e) / e;
            cells++;
        }
        foreach (var (cell, o) in observed)
            if (!probabilities.ContainsKey(cell)) smallObserved += o; // impossible outcomes land in the merged cell
        if (smallExpected > 0 || smallObserved > 0)
        {
            stat += (smallObserved - smallExpected) * (smallObserved - smallExpected) / Math.Max(smallExpected, 1e-9);
            cells++;
        }
        int df = Math.Max(1, cells - 1);
        return (stat, df, UpperRegularizedGamma(df / 2.0, stat / 2.0));
    }

    // Q(a, x) = Γ(a, x) / Γ(a): series for x < a + 1, continued fraction otherwise (Numerical Recipes §6.2).
    private static double UpperRegularizedGamma(double a, double x)
    {
        if (x <= 0) return 1;
        double lnGammaA = LnGamma(a);
        if (x < a + 1)
        {
            double sum = 1 / a, term = sum;
            for (int n = 1; n < 10000; n++)
            {
                term *= x / (a + n);
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-15) break;
            }
            return 1 - sum * Math.Exp(-x + a * Math.Log(x) - lnGammaA);
        }
        double b = x + 1 - a, c = 1 / 1e-300, d = 1 / b, h = d;
        for (int i = 1; i < 10000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b; if (Math.Abs(d) < 1e-300) d = 1e-300;
            c = b + an / c; if (Math.Abs(c) < 1e-300) c = 1e-300;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return Math.Exp(-x + a * Math.Log(x) - lnGammaA) * h;
    }

    private static double LnGamma(double x)
    {
        double[] c = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
        double y = x, tmp = x + 5.5;
        tmp -= (x + 0.5) * Math.Log(tmp);
        double ser = 1.000000000190015;
        foreach (double v in c) ser += v / ++y;
        return -tmp + Math.Log(2.5066282746310005 * ser / x);
    }
}
