using Eagle.AI;

namespace Eagle.Samples.WebApi;

/// <summary>
/// The model folders as a command line means them: relative to the current directory (not the app's folder or content
/// root), and an empty <c>--Eagle:DraftModelPath=</c> turns the draft head off (plain decoding).
/// </summary>
internal static class ModelPaths
{
    public static void Resolve(EagleOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.ModelPath)) options.ModelPath = Path.GetFullPath(options.ModelPath);
        options.DraftModelPath = string.IsNullOrWhiteSpace(options.DraftModelPath) ? null : Path.GetFullPath(options.DraftModelPath);
    }
}
