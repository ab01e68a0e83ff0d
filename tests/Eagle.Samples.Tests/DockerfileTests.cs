using System.Xml.Linq;
using Eagle.AI.Testing;

namespace Eagle.Samples.Tests;

/// <summary>
/// The WebApi sample's Dockerfile, read without Docker (no daemon on CI): its build stage copies every file the
/// publish reads from the repository — the MSBuild files above each project, the files they include, and each
/// project the sample references, its project file before the restore and its folder after.
/// </summary>
public sealed class DockerfileTests
{
    private static readonly string Root = TestRepository.Root;
    private static readonly string Dockerfile = Path.Combine(Root, "samples", "Eagle.Samples.WebApi", "Dockerfile");

    [Fact]
    public void The_build_stage_copies_every_file_the_publish_reads()
    {
        var lines = File.ReadAllLines(Dockerfile);
        int restore = Array.FindIndex(lines, l => l.StartsWith("RUN dotnet restore", StringComparison.Ordinal));
        int publish = Array.FindIndex(lines, l => l.StartsWith("RUN dotnet publish", StringComparison.Ordinal));
        Assert.True(restore > 0 && publish > restore, "the Dockerfile restores, then publishes");
        var beforeRestore = Copied(lines[..restore]);
        var beforePublish = Copied(lines[..publish]);

        foreach (string project in ReferencedProjects(Path.Combine(Root, "samples", "Eagle.Samples.WebApi", "Eagle.Samples.WebApi.csproj")))
        {
            string relative = Relative(project);
            Assert.True(Covers(beforeRestore, relative), $"{relative} is not copied before the restore");
            Assert.True(Covers(beforePublish, Relative(Path.GetDirectoryName(project)!) + "/"), $"{Relative(Path.GetDirectoryName(project)!)}/ is not copied before the publish");
            for (string? folder = Path.GetDirectoryName(project); folder is not null && folder.Length >= Root.Length; folder = Path.GetDirectoryName(folder))
                foreach (string name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
                    if (File.Exists(Path.Combine(folder, name)))
                        Assert.True(Covers(beforeRestore, Relative(Path.Combine(folder, name))), $"{Relative(Path.Combine(folder, name))} is not copied before the restore");
        }
        // what the MSBuild files themselves name at the repository root
        foreach (string file in new[] { "global.json", "BannedSymbols.txt", "README.md", "LICENSE", "build/" })
            Assert.True(Covers(beforeRestore, file), $"{file} is not copied before the restore");
    }

    // The repository paths COPY lines of the build context name (not COPY --from another stage).
    private static List<string> Copied(IEnumerable<string> lines) =>
        lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            .ToList();

    private static bool Covers(List<string> copied, string path) =>
        copied.Any(c => c == path || (c.EndsWith('/') && path.StartsWith(c, StringComparison.Ordinal)));

    private static IEnumerable<string> ReferencedProjects(string project)
    {
        yield return project;
        foreach (var reference in XDocument.Load(project).Descendants("ProjectReference"))
        {
            string path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(project)!, ((string)reference.Attribute("Include")!).Replace('\\', '/')));
            foreach (string p in ReferencedProjects(path)) yield return p;
        }
    }

    private static string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');
}
