using System.Globalization;
using Eagle.AI.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Eagle.Samples.Tests;

/// <summary>
/// The WebApi sample on the real engine: the tiny chat model with its EAGLE-3 head (speculation on), configured the
/// way a deployment would be, through the "Eagle" configuration section. One per test collection: loading costs seconds.
/// </summary>
public sealed class TinyChatServer : WebApplicationFactory<Program>
{
    public const string ModelId = TinyChatModel.ModelId;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var options = TinyChatModel.Options(speculative: true);
        string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
        builder.UseSetting("Eagle:ModelPath", options.ModelPath);
        builder.UseSetting("Eagle:DraftModelPath", options.DraftModelPath);
        builder.UseSetting("Eagle:ModelId", options.ModelId);
        builder.UseSetting("Eagle:Device", options.Device);
        builder.UseSetting("Eagle:DType", options.DType);
        builder.UseSetting("Eagle:MaxContextTokens", Invariant(options.MaxContextTokens));
        builder.UseSetting("Eagle:Speculative", "true");
        builder.UseSetting("Eagle:Warmup", "true");
        if (options.Tree is { } tree)
        {
            builder.UseSetting("Eagle:Tree:Kind", tree.Kind.ToString());
            builder.UseSetting("Eagle:Tree:TotalTokens", Invariant(tree.TotalTokens));
            builder.UseSetting("Eagle:Tree:Depth", Invariant(tree.Depth));
            builder.UseSetting("Eagle:Tree:TopK", Invariant(tree.TopK));
        }
    }
}

/// <summary>The tests that share one <see cref="TinyChatServer"/> (and so one loaded model).</summary>
[CollectionDefinition(Name)]
public sealed class TinyChatCollection : ICollectionFixture<TinyChatServer>
{
    public const string Name = "tiny chat server";
}
