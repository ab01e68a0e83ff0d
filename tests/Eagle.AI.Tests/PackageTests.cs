using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Eagle.AI.Testing;

namespace Eagle.AI.Tests;

/// <summary>
/// The NuGet packages as a user gets them: <c>dotnet pack</c> the libraries into a folder feed, check what is inside,
/// then restore, build and run a throwaway console app from that feed (plus nuget.org for everything else) that asks
/// the tiny chat model one question through <c>AddEagleChatClient</c>.
/// </summary>
public class PackageTests
{
    private static readonly string[] Packages = ["Eagle.AI.Engine", "Eagle.AI", "Eagle.AI.SemanticKernel"];

    [Fact]
    public void Packed_libraries_restore_into_a_fresh_app_that_answers_a_chat_request()
    {
        string work = Path.Combine(Path.GetTempPath(), "eagle-pack-" + Guid.NewGuid().ToString("N"));
        string feed = Path.Combine(work, "feed");
        // A fresh version per run: the machine-wide NuGet cache never hands back an older build of the same version.
        string version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            foreach (string package in Packages)
                Dotnet(TestRepository.Root, "pack", Path.Combine("src", package, package + ".csproj"), "-c", "Release", "-o", feed, $"-p:Version={version}");

            foreach (string package in Packages)
                CheckPackage(Path.Combine(feed, $"{package}.{version}.nupkg"), package);

            string app = Path.Combine(work, "app");
            WriteApp(app, feed, version);
            Dotnet(app, "build", "-c", "Release");
            string output = Dotnet(app, "run", "-c", "Release", "--no-build", "--", TinyChatModel.Folder, TinyChatModel.DraftFolder);

            Assert.Contains("answer: " + TinyChatScript.CapitalAnswer, output, StringComparison.Ordinal);
            // The AVX512-BF16 kernel, where this build made one, resolves from the package's runtimes/linux-x64/native.
            if (NativeKernelBuilt) Assert.Contains("native kernel: True", output, StringComparison.Ordinal);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // a leftover temp folder must not fail a run that passed
            }
        }
    }

    // The engine's build compiled its native bf16 code, both builds (Linux x64 with a C compiler).
    private static bool NativeKernelBuilt =>
        File.Exists(Path.Combine(TestRepository.Root, "src", "Eagle.AI.Engine", "obj", "native", "libeagle_cpu.so"));

    // README, XML docs, a symbols package, and dependencies on managed TorchSharp only (the application picks libtorch).
    private static void CheckPackage(string nupkg, string id)
    {
        Assert.True(File.Exists(nupkg), $"{nupkg} was not produced");
        Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"no symbols package next to {nupkg}");
        using var zip = ZipFile.OpenRead(nupkg);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("README.md", names);
        Assert.Contains($"lib/net10.0/{id}.dll", names);
        Assert.Contains($"lib/net10.0/{id}.xml", names);
        Assert.Contains("LICENSE", names);
        using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var metadata = XDocument.Load(nuspec);
        CheckMetadata(metadata, nupkg);
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => (string)e.Attribute("id")!).ToList();
        Assert.DoesNotContain(dependencies, d => d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || d.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase));
        if (id == "Eagle.AI.Engine")
        {
            Assert.Contains("TorchSharp", dependencies);
            Assert.Contains("buildTransitive/Eagle.AI.Engine.targets", names);
            if (NativeKernelBuilt)
            {
                Assert.Contains("runtimes/linux-x64/native/libeagle_cpu.so", names);
                Assert.Contains("runtimes/linux-x64/native/libeagle_cpu_avx512.so", names);
            }
        }
        else
        {
            Assert.Contains(id == "Eagle.AI" ? "Eagle.AI.Engine" : "Eagle.AI", dependencies);
        }
    }

    // License, tags and where the package came from: the commit always, the repository and project URLs when the
    // clone's origin is a web address (Source Link reads them from git; a local-path origin has none to publish).
    private static void CheckMetadata(XDocument nuspec, string nupkg)
    {
        string? Value(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
        var license = nuspec.Descendants().Single(e => e.Name.LocalName == "license");
        Assert.Equal(("expression", "MIT"), ((string?)license.Attribute("type"), license.Value));
        Assert.Contains("speculative-decoding", Value("tags") ?? "", StringComparison.Ordinal);
        var repository = nuspec.Descendants().Single(e => e.Name.LocalName == "repository");
        Assert.Equal(Git("rev-parse", "HEAD"), (string?)repository.Attribute("commit"));
        string origin = Git("remote", "get-url", "origin");
        if (origin.StartsWith("https://", StringComparison.Ordinal))
        {
            Assert.Equal(origin, (string?)repository.Attribute("url"));
            Assert.Equal(origin.EndsWith(".git", StringComparison.Ordinal) ? origin[..^4] : origin, Value("projectUrl"));
        }
        else
        {
            Assert.True(Value("projectUrl") is null, $"{nupkg} names a project URL without a web origin");
        }
    }

    // git's answer in the repository, trimmed; empty when the command fails (e.g. no remote named origin).
    private static string Git(params string[] arguments)
    {
        var start = new ProcessStartInfo("git", arguments)
        {
            WorkingDirectory = TestRepository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        _ = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return process.ExitCode == 0 ? output : "";
    }

    private static void WriteApp(string folder, string feed, string version)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="eagle-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(folder, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Eagle.AI" Version="{version}" />
                <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.15" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), """
            using Microsoft.Extensions.AI;
            using Microsoft.Extensions.DependencyInjection;

            var services = new ServiceCollection();
            services.AddEagleChatClient(o =>
            {
                o.ModelPath = args[0];
                o.DraftModelPath = args[1];
                o.Device = "cpu";
                o.DType = "float32";
            });
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<IChatClient>();
            var response = await client.GetResponseAsync("What is the capital of France?");
            Console.WriteLine("answer: " + response.Text);
            Console.WriteLine("native kernel: " + System.Runtime.InteropServices.NativeLibrary.TryLoad(
                "eagle_cpu", typeof(Eagle.AI.Engine.Checkpoints.LlamaConfig).Assembly, null, out _));
            """);
    }

    private static string Dotnet(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // No build servers or reused nodes: they would outlive the command holding its output pipes open.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} took over 10 minutes");
        }
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
