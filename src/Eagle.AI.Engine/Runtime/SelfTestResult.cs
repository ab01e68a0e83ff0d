namespace Eagle.AI.Engine.Runtime;

/// <summary>How one self-test check came out.</summary>
internal enum SelfTestOutcome
{
    /// <summary>Within its limit.</summary>
    Pass,
    /// <summary>Outside its limit, or the check could not run.</summary>
    Fail,
    /// <summary>Reported, not judged (e.g. greedy agreement in half precision).</summary>
    Info,
}

/// <summary>One row of a self-test table.</summary>
/// <param name="Check">What was checked.</param>
/// <param name="Outcome">Pass, fail or information only.</param>
/// <param name="Measured">What was measured, e.g. "rel err 3.1e-04".</param>
/// <param name="Limit">The tolerance or requirement it was judged against; empty for information rows.</param>
internal sealed record SelfTestResult(string Check, SelfTestOutcome Outcome, string Measured, string Limit = "")
{
    /// <summary>Pass when <paramref name="error"/> ≤ <paramref name="tolerance"/> (NaN fails).</summary>
    public static SelfTestResult Within(string check, double error, double tolerance, string extra = "") =>
        new(check, error <= tolerance ? SelfTestOutcome.Pass : SelfTestOutcome.Fail,
            $"rel err {error:0.0e+00}{extra}", $"≤ {tolerance:0.0e+00} of max|ref|");

    /// <summary>Pass when the results are identical.</summary>
    public static SelfTestResult Exact(string check, bool equal, string measured) =>
        new(check, equal ? SelfTestOutcome.Pass : SelfTestOutcome.Fail, measured, "exact");

    /// <summary>A failure carrying the exception that stopped the check.</summary>
    public static SelfTestResult Error(string check, Exception e) =>
        new(check, SelfTestOutcome.Fail, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");

    /// <summary>Runs <paramref name="body"/>, turning an exception into a failed row, so one broken op does not hide the others.</summary>
    public static SelfTestResult Guard(string check, Func<SelfTestResult> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return body();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Error(check, e);
        }
    }
}
