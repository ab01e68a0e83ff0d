using System.Diagnostics;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// A persistent, low-latency pool for the CPU kernels: the caller runs part 0 of a job and parked workers run the
/// others. A one-token decode step calls a linear about 7 times a layer, each worth only 50–500 µs of memory reads, so
/// starting tasks (or OpenMP's fork/barrier, 35% of oneDNN's samples in the measured decode step) per call costs too
/// much; workers instead spin briefly after each job (the next linear usually follows within microseconds) and then
/// sleep so that an idle process burns no CPU.
/// </summary>
internal static unsafe class CpuWorkers
{
    private const double SpinSeconds = 0.0005; // covers the small ops between two linears (tens of µs each)
    private static readonly object gate = new();   // sleepers wait on it; a new job pulses it
    private static readonly object busy = new();   // one job at a time
    private static readonly List<Thread> workers = [];
    private static long generation;                // bumped once per job
    private const int MaxThreads = 256;
    // Per part: 1 once its worker or the caller has taken it this job; parts beyond the current job's stay taken.
    private static readonly int[] claimed = Enumerable.Repeat(1, MaxThreads).ToArray();
    private static int finished;                   // parts the workers finished this job
    private static int parts;
    private static delegate*<void*, int, int, void> body;
    private static void* context;

    /// <summary>
    /// Runs <paramref name="work"/>(<paramref name="state"/>, part, parts) for part = 0 … parts − 1, parts =
    /// <paramref name="threads"/>, each part exactly once, and returns when all are done. A caller arriving while
    /// another job runs (or with one thread) runs everything itself as one part rather than waiting.
    /// </summary>
    /// <remarks>
    /// Each part is claimed by whoever takes it first: its worker, or the caller once its own part is done. So a worker
    /// that is slow to wake (asleep after a pause longer than its spin, or its core taken by the hypervisor) never holds
    /// the caller up; its part runs on the caller instead, and with the kernels' shared chunk counter that part usually
    /// finds nothing left to do. Measured on the 2-core VM this targets (llama3-1b bf16, 63 one-token steps), waiting
    /// for the workers as before: 175 ms of 3.5 s in the caller's end-of-product waits, most of it in the 20 of 4,160
    /// calls that waited over 0.3 ms; the rest is the tail of the last chunk.
    /// </remarks>
    public static void Run(int threads, delegate*<void*, int, int, void> work, void* state)
    {
        if (threads <= 1 || !Monitor.TryEnter(busy))
        {
            work(state, 0, 1);
            return;
        }
        try
        {
            threads = Math.Min(threads, MaxThreads);
            while (workers.Count < threads - 1) Start(workers.Count + 1);
            body = work;
            context = state;
            parts = threads;
            Volatile.Write(ref finished, 0);
            for (int i = 1; i < threads; i++) Volatile.Write(ref claimed[i], 0);   // after body and context: a claim sees them
            lock (gate)
            {
                Interlocked.Increment(ref generation);
                Monitor.PulseAll(gate);
            }
            work(state, 0, threads);
            int byWorkers = 0;
            for (int i = 1; i < threads; i++)
            {
                if (Interlocked.Exchange(ref claimed[i], 1) == 0) work(state, i, threads);   // its worker has not started it
                else byWorkers++;
            }
            for (int i = 1; Volatile.Read(ref finished) != byWorkers; i++)
            {
                if (i % 1024 == 0) Thread.Yield(); // a descheduled worker needs this core on a busy machine
                else Thread.SpinWait(8);
            }
        }
        finally
        {
            Monitor.Exit(busy);
        }
    }

    private static void Start(int index)
    {
        // The generation the worker starts from is read here, before the job that needs it is published: read inside
        // the new thread, it could already include that job, and the worker would wait for the next one while the
        // caller waits for it (seen as a decode that hung, the caller spinning alone).
        long seen = Volatile.Read(ref generation);
        var t = new Thread(() => Loop(index, seen)) { IsBackground = true, Name = $"eagle-cpu-{index}" };
        workers.Add(t);
        t.Start();
    }

    private static void Loop(int index, long seen)
    {
        while (true)
        {
            long spinUntil = Stopwatch.GetTimestamp() + (long)(SpinSeconds * Stopwatch.Frequency);
            while (Volatile.Read(ref generation) == seen)
            {
                if (Stopwatch.GetTimestamp() < spinUntil)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                lock (gate)
                {
                    while (Volatile.Read(ref generation) == seen) Monitor.Wait(gate);
                }
            }
            seen = Volatile.Read(ref generation);
            // The claim comes first and the job is read after it: a worker that wakes late may find a later job than
            // the one that woke it, and then runs that one's part (the caller resets the claims only after publishing
            // body, context and parts, and waits for every part a worker claimed before the next job).
            if (Interlocked.Exchange(ref claimed[index], 1) == 0)
            {
                body(context, index, parts);
                Interlocked.Increment(ref finished);
            }
        }
    }
}
