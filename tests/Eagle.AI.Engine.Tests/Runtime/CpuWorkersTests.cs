using System.Runtime.InteropServices;
using Eagle.AI.Engine.Runtime;

namespace Eagle.AI.Engine.Tests.Runtime;

/// <summary>
/// The CPU kernels' thread pool: every part of every job runs exactly once, whether its worker was spinning, asleep
/// (after a pause longer than its spin) or slow to wake, in which case the caller takes the part over.
/// </summary>
public unsafe class CpuWorkersTests
{
    private struct Job
    {
        public int* Counts;   // runs per part
        public int Parts;     // the parts count the job was run with (1 when another job held the pool)
    }

    private static void Count(void* state, int part, int parts)
    {
        ref var job = ref *(Job*)state;
        Volatile.Write(ref job.Parts, parts);
        Interlocked.Increment(ref job.Counts[part]);
        if (part == 0) Thread.SpinWait(200);   // the caller's own part takes a while, so a spinning worker usually claims its part first
    }

    [Fact]
    public void Every_part_of_every_job_runs_exactly_once_on_whichever_thread_takes_it()
    {
        const int Jobs = 600, MaxParts = 4;
        // Each job counts into its own memory, kept to the end: a worker that ran a part of a job after that job had
        // returned (the caller having taken it over) would show as a count in an earlier job's memory.
        var counts = new int*[Jobs];
        var parts = new int[Jobs];
        try
        {
            for (int i = 0; i < Jobs; i++)
            {
                counts[i] = (int*)NativeMemory.AllocZeroed(MaxParts, sizeof(int));
                if (i % 40 == 0) Thread.Sleep(3);   // longer than the workers' spin: they go to sleep and wake late
                var job = new Job { Counts = counts[i] };
                CpuWorkers.Run(2 + i % (MaxParts - 1), &Count, &job);
                parts[i] = job.Parts;
            }
            for (int i = 0; i < Jobs; i++)
            {
                Assert.True(parts[i] == 1 || parts[i] == 2 + i % (MaxParts - 1), $"job {i} ran with {parts[i]} parts");
                for (int p = 0; p < MaxParts; p++)
                    Assert.True(counts[i][p] == (p < parts[i] ? 1 : 0), $"job {i} part {p} ran {counts[i][p]} times");
            }
        }
        finally
        {
            foreach (var c in counts) NativeMemory.Free(c);
        }
    }
}
