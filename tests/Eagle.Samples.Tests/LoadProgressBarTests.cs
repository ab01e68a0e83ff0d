using Eagle.AI;
using Eagle.AI.Testing;
using Eagle.Samples.Console;

namespace Eagle.Samples.Tests;

public sealed class LoadProgressBarTests
{
    [Fact]
    public void Redraws_one_line_per_part_and_ends_it_when_the_part_is_loaded()
    {
        using var text = new StringWriter();
        var bar = new LoadProgressBar(text);

        bar.Report(new ModelLoadProgress("target", 0, 4));
        bar.Report(new ModelLoadProgress("target", 2, 4));
        bar.Report(new ModelLoadProgress("target", 4, 4));

        string[] lines = text.ToString().Split(Environment.NewLine);
        Assert.Equal(2, lines.Length);                                 // one finished line, then nothing
        Assert.EndsWith("\rloading target [" + new string('#', 30) + "] 4/4", lines[0], StringComparison.Ordinal);
        Assert.Contains("\rloading target [" + new string('#', 15) + new string('.', 15) + "] 2/4", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void The_engine_reports_every_tensor_of_the_target_and_the_head()
    {
        var reports = new List<ModelLoadProgress>();
        using (new EagleEngine(TinyChatModel.Options(), null, new SynchronousProgress(reports.Add)))
        {
        }

        foreach (string part in new[] { "target", "draft head" })
        {
            var mine = reports.Where(r => r.Part == part).ToList();
            Assert.NotEmpty(mine);
            Assert.Equal(Enumerable.Range(1, mine[^1].Total), mine.Select(r => r.Done).Where(d => d > 0));
        }
    }

    // Progress<T> would post to a thread-pool context; a bar wants the reports in order, as they happen.
    private sealed class SynchronousProgress(Action<ModelLoadProgress> report) : IProgress<ModelLoadProgress>
    {
        public void Report(ModelLoadProgress value) => report(value);
    }
}
