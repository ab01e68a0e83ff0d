using Eagle.AI.Engine.Drafting;
using System.Diagnostics;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// One request being decoded, and everything it holds: its KV cache, drafting state and tree buffers, sampler and
/// random state, pending features and statistics. A step is split in two so that many sessions can share one batched
/// forward: <see cref="Plan"/> says what this session's next forward is (the prompt, one token, or root + draft tree) and
/// <see cref="Complete"/> takes that forward's output, chooses or accepts tokens, commits and emits them.
/// <see cref="Step(IReadOnlyList{DecodingSession})"/> runs one step of several sessions through one forward.
/// </summary>
internal abstract class DecodingSession : IDisposable
{
    private readonly Func<IReadOnlyList<int>, bool>? onTokens;
    private readonly HashSet<int> stop;
    private readonly List<int> output = [];
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private double prefillMs;
    private FinishReason reason = FinishReason.Length;
    private bool disposed, inStep, retained;

    /// <summary>Prompt tokens one prefill forward takes at most, by default.</summary>
    public const int DefaultPrefillChunkTokens = 512;

    /// <summary>Starts a session for <paramref name="prompt"/>; <paramref name="onTokens"/> sees each step's tokens and may return false to end the request there.</summary>
    private protected DecodingSession(LlamaForCausalLM target, IReadOnlyList<int> prompt, GenerationOptions options,
        Func<IReadOnlyList<int>, bool>? onTokens, int prefillChunkTokens)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        if (prompt.Count == 0) throw new ArgumentException("The prompt is empty.", nameof(prompt));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(prefillChunkTokens);
        options.Validate();
        PrefillChunkTokens = prefillChunkTokens;
        Target = target;
        Prompt = prompt;
        Options = options;
        this.onTokens = onTokens;
        stop = new HashSet<int>(options.StopTokenIds ?? target.Config.EosTokenIds);
        if (options.Constraint is { } c)
        {
            // The end of the document is a stop id: without one a complete document would leave nothing to choose.
            if (stop.Count == 0) throw new ArgumentException("A constrained request needs at least one stop id (its end).", nameof(options));
            Constraint = new ConstraintTracker(c, stop);
        }
    }

    /// <summary>The output constraint's state and masks; null when the request is unconstrained.</summary>
    private protected ConstraintTracker? Constraint { get; }

    /// <summary>The logits with what the output constraint forbids masked out (the logits themselves when unconstrained).</summary>
    private protected Tensor Constrained(Tensor logits) => Constraint is { } c ? c.Mask(logits) : logits;

    /// <summary>The model this session decodes with.</summary>
    public LlamaForCausalLM Target { get; }

    /// <summary>The prompt's ids.</summary>
    public IReadOnlyList<int> Prompt { get; }

    /// <summary>Budget, sampling and stop ids.</summary>
    public GenerationOptions Options { get; }

    /// <summary>
    /// Prompt tokens one prefill forward takes at most: a long prompt is prefilled over several steps, so in a batch it
    /// does not stall the other sessions' streams for its whole length.
    /// </summary>
    public int PrefillChunkTokens { get; }

    /// <summary>Prompt tokens already through the target.</summary>
    public int Prefilled { get; private set; }

    /// <summary>Whether the whole prompt is through the target (the first token has been chosen).</summary>
    public bool PrefillComplete => Prefilled == Prompt.Count;

    /// <summary>The prompt tokens of the next prefill chunk: [<see cref="Prefilled"/>, + this).</summary>
    private protected int NextChunk => Math.Min(PrefillChunkTokens, Prompt.Count - Prefilled);

    /// <summary>Whether the next prefill chunk is the prompt's last (its forward yields the first token).</summary>
    private protected bool LastChunk => Prefilled + NextChunk == Prompt.Count;

    /// <summary>Records that the next chunk went through the target.</summary>
    private protected void ChunkDone() => Prefilled += NextChunk;

    /// <summary>Prompt tokens whose K/V was copied from a retained sequence instead of prefilled.</summary>
    public int CachedPromptTokens { get; private set; }

    /// <summary>Marks the first <paramref name="tokens"/> prompt tokens as already in the caches (copied from a retained sequence).</summary>
    private protected void StartAfter(int tokens)
    {
        Prefilled = tokens;
        CachedPromptTokens = tokens;
    }

    /// <summary>
    /// Hands this session's caches over, for later requests that share its prefix (see <see cref="PrefixCache"/>): the
    /// target K/V of every token fed so far and, for a speculative session, its drafting state. Null when the session is
    /// mid-step (a failed forward leaves its caches untrustworthy) or holds nothing yet. Disposing the session afterwards
    /// no longer frees them; the returned sequence owns them.
    /// </summary>
    public RetainedSequence? Retain()
    {
        if (disposed || retained || inStep) return null;
        var (cache, draft) = Relinquish();
        if (cache.Length == 0)
        {
            cache.Dispose();
            draft?.Dispose();
            retained = true;
            return null;
        }
        retained = true;
        // Kept at the size it holds, not the size it reserved (the unused answer budget, the tree's room): a request that
        // reserved the whole context for a short answer would otherwise crowd every other prefix out of the budget.
        KVCache? keptCache = null;
        IDraftState? keptDraft = null;
        try
        {
            keptCache = cache.Capacity > cache.Length ? cache.Trimmed() : cache;
            keptDraft = draft?.Trimmed();
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e))
        {
            if (keptCache != cache) keptCache?.Dispose();
            cache.Dispose();
            draft?.Dispose();
            return null;                                                            // no room to keep it: nothing is lost but reuse
        }
        if (keptCache != cache) cache.Dispose();
        if (keptDraft != draft) draft?.Dispose();
        return new RetainedSequence([.. Prompt.Concat(output).Take(keptCache.Length)], keptCache, keptDraft);
    }

    /// <summary>Gives up ownership of the target cache and the drafting state (<see cref="Retain"/>).</summary>
    private protected abstract (KVCache Cache, IDraftState? DraftState) Relinquish();

    /// <summary>The next prefill chunk's forward: its ids and positions, logits of its last row only when it is the prompt's last.</summary>
    private protected ForwardItem PrefillItem(KVCache cache, ForwardRequest request)
    {
        var device = Target.Device;
        int start = Prefilled, n = NextChunk;
        var ids = tensor(Prompt.Skip(start).Take(n).Select(t => (long)t).ToArray(), device: device);
        var rows = LastChunk ? tensor(new long[] { n - 1 }, device: device) : empty(0, ScalarType.Int64, device);
        return new ForwardItem(ids, Runtime.HeldScalars.Range(start, start + n, device), cache, null, request with { LogitRows = rows });
    }

    /// <summary>Whether generation is over (a stop id, the budget, the context limit, or the consumer asked to stop).</summary>
    public bool Done { get; private set; }

    /// <summary>The tokens generated so far.</summary>
    public IReadOnlyList<int> Output => output;

    /// <summary>Positions this session's KV cache holds.</summary>
    public abstract int Capacity { get; }

    /// <summary>Device bytes this session holds (caches and buffers).</summary>
    public abstract long Bytes { get; }

    /// <summary>What the session is allocating or running on the device (see <see cref="DeviceMemory"/>), for out-of-memory reports.</summary>
    public string Allocation { get; private protected set; } = DeviceMemory.KVCache;

    /// <summary>
    /// The next forward: this session's new tokens, positions, cache, mask and the outputs it needs. Its tensors belong
    /// to the caller's dispose scope. <paramref name="load"/> is what the rest of the batch puts in the same forward
    /// (null = alone); a speculative session sizes its tree by it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session is done.</exception>
    public ForwardItem Plan(BatchLoad? load = null)
    {
        var draft = PlanDraft(load ?? BatchLoad.Alone);
        return PlanStep(draft is { } d ? d.Drafter.Draft([d.Call])[0] : null);
    }

    // The first half of planning: the session decides its step and says what it needs drafted (null = nothing).
    private PlannedDraft? PlanDraft(BatchLoad load)
    {
        if (Done) throw new InvalidOperationException("the session is done");
        inStep = true;
        return DecideStep(load);
    }

    /// <summary>
    /// Decides this step (e.g. whether to draft and how big a tree, given <paramref name="load"/>) and returns the draft it
    /// needs, if any. The drafts of all sessions in a step are made together, then each session gets its tree in
    /// <see cref="PlanStep"/>.
    /// </summary>
    private protected virtual PlannedDraft? DecideStep(BatchLoad load) => null;

    /// <summary>A draft a session needs this step: the call to make of <see cref="Drafter"/>, and the tokens its tree may put in the forward.</summary>
    private protected readonly record struct PlannedDraft(IDrafter Drafter, DraftCall Call, int Tokens);

    /// <summary>Tokens this session's next forward carries at least: the prompt before prefill, then one.</summary>
    public abstract int MinimumTokens { get; }

    /// <summary>Consumes the output of the forward <see cref="Plan"/> described.</summary>
    public void Complete(TargetOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        CompleteStep(output);
        inStep = false;
    }

    /// <summary>Ends the request now, as if a stop id had come: <see cref="FinishReason.Stop"/> with the tokens so far.</summary>
    public void Stop()
    {
        if (Done) return;
        Done = true;
        reason = FinishReason.Stop;
    }

    /// <summary>The outcome; complete once <see cref="Done"/>.</summary>
    public GenerationResult Result
    {
        get
        {
            double total = clock.Elapsed.TotalMilliseconds;
            var stats = Statistics() with
            {
                MaskMs = Constraint?.MaskMs ?? 0,
                Masks = Constraint?.Masks ?? 0,
                MaskStepMs = Constraint?.StepMs ?? [],
                PromptTokens = Prompt.Count,
                CachedPromptTokens = CachedPromptTokens,
                GeneratedTokens = output.Count,
                PrefillMs = prefillMs,
                DecodeMs = total - prefillMs,
            };
            return new GenerationResult(output.ToArray(), reason, stats);
        }
    }

    /// <summary>One step of this session alone.</summary>
    /// <exception cref="DeviceOutOfMemoryException">The forward did not fit in device memory.</exception>
    public void Step() => Step([this]);

    /// <summary>
    /// One step of every session in <paramref name="sessions"/> (none done, all on one target) through one forward:
    /// each decides its step, the drafts they need are made together (one call per drafter), the target runs every
    /// session's tokens together, and each completes with its own part of the output. If that forward does not fit in
    /// device memory, each session is run again alone; one whose own forward does not fit either fails alone
    /// (<see cref="Failure"/>) and the others go on.
    /// </summary>
    /// <exception cref="DeviceOutOfMemoryException">A single session's forward did not fit in device memory, or a draft did not (named after the first session).</exception>
    public static void Step(IReadOnlyList<DecodingSession> sessions)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        if (sessions.Count == 0) return;
        var target = sessions[0].Target;
        if (sessions.Any(s => s.Target != target)) throw new ArgumentException("the sessions of one step must share a target", nameof(sessions));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var items = new ForwardItem[sessions.Count];
        try
        {
            // Each session decides knowing the tokens the others put in this forward: as planned for those before it,
            // at least one each (or their prompt chunk) for those after.
            var drafts = new PlannedDraft?[sessions.Count];
            int tokens = sessions.Sum(s => s.MinimumTokens);
            bool drafting = false;
            for (int j = 0; j < sessions.Count; j++)
            {
                drafts[j] = sessions[j].PlanDraft(new BatchLoad(tokens - sessions[j].MinimumTokens, sessions.Count, drafting));
                tokens += (drafts[j]?.Tokens ?? sessions[j].MinimumTokens) - sessions[j].MinimumTokens;
                drafting |= drafts[j] is not null;
            }
            var trees = DraftTogether(drafts);
            for (int j = 0; j < sessions.Count; j++) items[j] = sessions[j].PlanStep(trees[j]);
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e))
        {
            throw sessions[0].OutOfMemory(e);
        }

        IReadOnlyList<TargetOutput> outputs;
        try
        {
            outputs = Forward(sessions, items);
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e) && sessions.Count > 1)
        {
            // A failed forward commits nothing, so each session's part can run again on its own.
            for (int j = 0; j < sessions.Count; j++)
            {
                try
                {
                    sessions[j].Complete(Forward([sessions[j]], [items[j]])[0]);
                }
                catch (Exception alone) when (DeviceMemory.IsOutOfMemory(alone))
                {
                    sessions[j].Failure = sessions[j].OutOfMemory(alone);
                    sessions[j].Done = true;                                         // stays mid-step: its caches are not kept
                }
            }
            return;
        }
        catch (Exception e) when (DeviceMemory.IsOutOfMemory(e))
        {
            throw sessions[0].OutOfMemory(e);
        }
        for (int j = 0; j < sessions.Count; j++) sessions[j].Complete(outputs[j]);
    }

    private static IReadOnlyList<TargetOutput> Forward(IReadOnlyList<DecodingSession> sessions, ForwardItem[] items)
    {
        foreach (var s in sessions) s.Allocation = DeviceMemory.Forward;
        DeviceMemory.Allocating(DeviceMemory.Forward);
        return sessions[0].Target.Forward(items);
    }

    // One drafter call for all the sessions that draft with it; each session gets its own tree back (null = no draft).
    private static DraftTree?[] DraftTogether(PlannedDraft?[] drafts)
    {
        var trees = new DraftTree?[drafts.Length];
        foreach (var group in Enumerable.Range(0, drafts.Length).Where(j => drafts[j] is not null).GroupBy(j => drafts[j]!.Value.Drafter))
        {
            var members = group.ToArray();
            var made = group.Key.Draft([.. members.Select(j => drafts[j]!.Value.Call)]);
            for (int i = 0; i < members.Length; i++) trees[members[i]] = made[i];
        }
        return trees;
    }

    private DeviceOutOfMemoryException OutOfMemory(Exception e) => new(Capacity, Bytes, Target.Device.ToString(), Allocation, e);

    /// <summary>
    /// Why this session ended without a result, when it failed alone in a shared step (its part of a batched forward did
    /// not fit in device memory even by itself); null otherwise. Such a session is <see cref="Done"/>.
    /// </summary>
    public Exception? Failure { get; private set; }

    /// <summary>The forward of the step <see cref="DecideStep"/> chose, given the tree drafted for it (null when it asked for none).</summary>
    private protected abstract ForwardItem PlanStep(DraftTree? tree);

    /// <summary>What <see cref="Complete"/> does.</summary>
    private protected abstract void CompleteStep(TargetOutput output);

    /// <summary>The subclass's counters (forwards, rounds, drafts); the base fills in tokens and times.</summary>
    private protected abstract GenerationStats Statistics();

    /// <summary>The counters so far, without building a <see cref="Result"/> (for per-step measurements).</summary>
    public DecodingProgress Progress
    {
        get
        {
            var (rounds, accepted, verified) = RoundCounters;
            return new DecodingProgress(Prefilled, output.Count, rounds, accepted, verified, Capacity);
        }
    }

    /// <summary>Rounds, accepted drafts and verified tokens so far (see <see cref="DecodingProgress"/>).</summary>
    private protected abstract (int Rounds, int AcceptedDraftTokens, int VerifiedTokens) RoundCounters { get; }

    /// <summary>Marks the end of prefill (called once, when the prompt's forward has been consumed).</summary>
    private protected void PrefillDone() => prefillMs = clock.Elapsed.TotalMilliseconds;

    /// <summary>Milliseconds since the session started.</summary>
    private protected double Now => clock.Elapsed.TotalMilliseconds;

    /// <summary>
    /// Appends tokens up to and including a stop id or the budget and shows them to the consumer; returns how many
    /// were taken. Sets <see cref="Done"/> when generation is over (also when the consumer returns false).
    /// </summary>
    private protected int Emit(IReadOnlyList<int> tokens)
    {
        int start = output.Count;
        foreach (int t in tokens)
        {
            output.Add(t);
            Constraint?.Accept(t);
            if (stop.Contains(t)) { Done = true; reason = FinishReason.Stop; break; }
            if (output.Count >= Options.MaxNewTokens) { Done = true; break; }
        }
        if (onTokens?.Invoke(output.GetRange(start, output.Count - start)) == false) Stop();
        return output.Count - start;
    }

    /// <summary>Ends generation at the context limit (<see cref="FinishReason.Length"/>).</summary>
    private protected void ContextFull() => Done = true;

    /// <summary>Frees the session's device memory.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees caches and buffers.</summary>
    protected abstract void Dispose(bool disposing);
}
