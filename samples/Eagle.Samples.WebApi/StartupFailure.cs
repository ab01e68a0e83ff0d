using Microsoft.Extensions.Options;

namespace Eagle.Samples.WebApi;

/// <summary>
/// A server that cannot start (invalid options, a model folder that does not load, weights that are not finite) says
/// why in one line and exits with code 1, rather than dying of an unhandled exception (exit 134, a stack trace).
/// </summary>
internal static class StartupFailure
{
    public const int ExitCode = 1;

    public static int Report(Exception exception)
    {
        Console.Error.WriteLine($"Eagle.Samples.WebApi cannot start: {Describe(exception)}");
        return ExitCode;
    }

    private static string Describe(Exception exception) => exception switch
    {
        AggregateException { InnerExceptions.Count: 1 } one => Describe(one.InnerExceptions[0]),
        AggregateException many => string.Join(" ", many.InnerExceptions.Select(Describe)),
        OptionsValidationException invalid => string.Join(" ", invalid.Failures),
        _ => exception.Message,
    };
}
