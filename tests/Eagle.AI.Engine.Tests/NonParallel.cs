namespace Eagle.AI.Engine.Tests;

/// <summary>Tests that read process-wide counters (live tensors) run alone, so other tests' tensors cannot move them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NonParallel
{
    public const string Name = "Non-parallel";
}
