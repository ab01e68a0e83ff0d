namespace Eagle.AI.Engine.Tests;

/// <summary>
/// Runs code with one of the engine's process-wide switches (the CPU kernel's loops, the native ops and attention,
/// gathered attention) set to a value, and puts the switch back as it was whatever happens. Classes that use it on a
/// static switch run in the <see cref="NonParallel"/> collection.
/// </summary>
internal static class Switched
{
    public static T With<T>(Func<bool> get, Action<bool> set, bool value, Func<T> run)
    {
        bool before = get();
        try
        {
            set(value);
            return run();
        }
        finally
        {
            set(before);
        }
    }

    public static void With(Func<bool> get, Action<bool> set, bool value, Action run) =>
        With(get, set, value, () =>
        {
            run();
            return true;
        });
}
