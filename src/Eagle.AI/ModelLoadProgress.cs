namespace Eagle.AI;

/// <summary>
/// How far loading has come: <paramref name="Done"/> of <paramref name="Total"/> tensors of <paramref name="Part"/>
/// (<c>target</c> or <c>draft head</c>). Register an <see cref="IProgress{T}"/> of this type in the service collection
/// (or pass one to <see cref="EagleEngine"/>) to draw a progress bar; the same steps are also logged.
/// </summary>
/// <param name="Part">What is loading.</param>
/// <param name="Done">Tensors loaded so far.</param>
/// <param name="Total">Tensors in all.</param>
public sealed record ModelLoadProgress(string Part, int Done, int Total);
