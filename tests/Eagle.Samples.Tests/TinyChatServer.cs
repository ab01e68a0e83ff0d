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

    private readonly string[] settings;

    public TinyChatServer()
        : this([])
    {
    }

    private TinyChatServer(string[] settings) => this.settings = settings;

    /// <summary>A started server on Kestrel (real HTTP on 127.0.0.1, a free port), with extra <c>Key=Value</c> settings.</summary>
    internal static TinyChatServer OnLoopback(params string[] settings)
    {
        var server = new TinyChatServer(settings);
        server.UseKestrel(0);
        server.StartServer();
        return server;
    }

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
        foreach (string setting in settings)
        {
            int eq = setting.IndexOf('=', StringComparison.Ordinal);
            builder.UseSetting(setting[..eq], setting[(eq + 1)..]);
        }
    }
}

/// <summary>The tests that share one <see cref="TinyChatServer"/> (and so one loaded model).</summary>
[CollectionDefinition(Name)]
public sealed class TinyChatCollection : ICollectionFixture<TinyChatServer>
{
    public const string Name = "tiny chat server";
}
