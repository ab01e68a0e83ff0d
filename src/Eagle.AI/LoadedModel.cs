using System.Diagnostics;
using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.Logging;

namespace Eagle.AI;

/// <summary>
/// The weights one engine holds: target, optional EAGLE drafter, tokenizer. As the engine's <see cref="IRequestDecoder"/>
/// it turns each request into a vanilla or speculative <see cref="DecodingSession"/> (which owns that request's caches)
/// and steps the active sessions together through one batched forward; it runs only on the generation thread.
/// </summary>
internal sealed class LoadedModel : IRequestDecoder, IDisposable
{
    private readonly LlamaForCausalLM target;
    private readonly EagleDrafter? drafter;
    private SpeculationCosts? costs;                     // measured at load for an adaptive tree, else on first use
    private readonly AcceptanceMemory acceptance = new(); // what the requests so far learned of the head, for the next

    private LoadedModel(LlamaForCausalLM target, EagleDrafter? drafter, SpeculationCosts? costs, Llama3Tokenizer tokenizer, EngineInfo info)
    {
        this.target = target;
        this.drafter = drafter;
        this.costs = costs;
        Tokenizer = tokenizer;
        Info = info;
    }

    public Llama3Tokenizer Tokenizer { get; }

    /// <summary>Prompt tokens one prefill forward takes at most (<see cref="EagleOptions.PrefillChunkTokens"/>).</summary>
    public int PrefillChunkTokens { get; init; } = DecodingSession.DefaultPrefillChunkTokens;

    /// <summary>Finished sequences kept for requests that share their prefix (<see cref="EagleOptions.PrefixCacheTokens"/>).</summary>
    public PrefixCache Prefixes { get; init; } = new(0);

    public EngineInfo Info { get; }

    /// <summary>Loads what <paramref name="options"/> (already validated) names, reporting progress to <paramref name="logger"/>.</summary>
    /// <exception cref="TorchRuntimeException">The native runtime cannot load, or CUDA was asked for and is not available.</exception>
    /// <exception cref="Engine.Checkpoints.CheckpointException">A model file is missing or malformed.</exception>
    /// <exception cref="DraftModelMismatchException">The draft head does not fit the target.</exception>
    public static LoadedModel Load(EagleOptions options, ILogger logger, IProgress<ModelLoadProgress>? progress = null)
    {
        TorchRuntime.EnsureInitialized();
        string modelPath = Path.GetFullPath(options.ModelPath!);
        var plan = Plan(options);
        if (plan.AutoDType) Log.AutoDType(logger, TorchRuntime.AutoDTypeReason(plan.Device));
        else if (plan.EmulatedFloat16) Log.SlowCpuDType(logger);
        string modelId = options.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(modelPath));
        var clock = Stopwatch.StartNew();
        var tokenizer = Llama3Tokenizer.Load(modelPath);
        // Constrained decoding's token trie (~0.5 s over 128k tokens) is built now, beside the weights, so the first
        // structured-output or required-tool request does not pay for it.
        var trie = Task.Run(() =>
        {
            var watch = Stopwatch.StartNew();
            return (TokenTrie.For(tokenizer).NodeCount, watch.Elapsed.TotalMilliseconds);
        });
        var format = ChatFormatVersionDetector.Detect(modelPath);
        Log.LoadingModel(logger, modelId, modelPath, plan.Device.ToString(), TorchRuntime.Name(plan.DType));
        var target = LoadTarget(modelPath, plan, Progress(logger, progress, "target"));
        if (plan.Placement is { } placement) Log.LayerPlacement(logger, placement.ToString());
        EagleDrafter? drafter = null;
        SpeculationCosts? costs = null;
        try
        {
            if (options.DraftModelPath is { } draftPath)
            {
                Log.LoadingDraft(logger, Path.GetFullPath(draftPath));
                drafter = EagleDrafter.Load(draftPath, target, options.Tree ?? TreeSettings.AdaptiveDefault, Progress(logger, progress, "draft head"), plan.DraftDevice);
                if (drafter.Tree.Adaptive)
                {
                    costs = SpeculationCosts.Measure(target, drafter);
                    Log.SpeculationCosts(logger, costs.StepMs, costs.DraftStepMs, costs.DraftStepAt(1), costs.RoundOverheadMs, costs.OverheadAt(2), costs.CatchUpMsPerToken,
                        string.Join(", ", costs.Verify.Ratios().Select(p => $"{p.Tokens}:{p.RatioToOne:F2}x")));
                }
            }
            var defaults = GenerationDefaults.Resolve(options, modelPath, [.. tokenizer.StopIds, .. target.Config.EosTokenIds]);
            var info = new EngineInfo(modelId, modelPath, format, defaults,
                Math.Min(options.MaxContextTokens, target.Config.MaxPositionEmbeddings),
                drafter is not null, drafter is not null && options.Speculative, drafter?.Tree, plan.Device, plan.DType);
            var (trieNodes, trieMs) = trie.GetAwaiter().GetResult();
            Log.TokenTrieBuilt(logger, trieNodes, tokenizer.VocabularySize, trieMs);
            Log.Loaded(logger, modelId, clock.Elapsed.TotalSeconds, drafter?.Head.Kind.ToString() ?? "none");
            // The requests' target caches are KV slots, reused from one request to the next (see KVCachePool).
            target.CachePool = new KVCachePool(options.MaxBatchSize);
            return new LoadedModel(target, drafter, costs, tokenizer, info)
            {
                PrefillChunkTokens = options.PrefillChunkTokens,
                Prefixes = new PrefixCache(PrefixBudget(options, target, drafter, info, logger)),
            };
        }
        catch
        {
            drafter?.Dispose();
            target.Dispose();
            throw;
        }
    }

    // The prefix cache's budget: as configured, or sized for the device (see PrefixCache.SizedFor); logged with what one
    // request's KV takes, so the memory a full batch needs is visible at load.
    private static int PrefixBudget(EagleOptions options, LlamaForCausalLM target, EagleDrafter? drafter, EngineInfo info, ILogger logger)
    {
        var c = target.Config;
        long perPosition = KVCache.BytesFor(c.NumHiddenLayers, c.NumKeyValueHeads, c.HeadDim, 1, target.DType)
            + (drafter is null ? 0 : KVCache.BytesFor(1, drafter.Head.Config.NumKeyValueHeads, drafter.Head.Config.HeadDim, 1, target.DType));
        Log.BatchMemory(logger, options.MaxBatchSize, perPosition / 1024.0, perPosition * (double)info.MaxContextTokens / (1 << 20), info.MaxContextTokens);
        int positions;
        string how;
        if (options.PrefixCacheTokens is { } configured)
        {
            positions = configured;
            how = "as EagleOptions.PrefixCacheTokens sets";
        }
        else
        {
            // TorchSharp cannot query a CUDA device's free memory; on the CPU the weights share the machine's memory.
            bool cpu = target.Device.type == TorchSharp.DeviceType.CPU;
            long? memory = cpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : null;
            long weights = target.ParameterCount * TorchSharp.TensorExtensionMethods.ElementSize(target.DType);
            positions = PrefixCache.SizedFor(memory, weights, perPosition);
            how = cpu ? $"a quarter of the {memory / (double)(1L << 30):F1} GiB of memory the {weights / (double)(1L << 30):F1} GiB of weights leave"
                : "the default for a device whose free memory cannot be queried";
        }
        Log.PrefixCacheBudget(logger, positions, positions * (double)perPosition / (1 << 20), how);
        return positions;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The request starts from the retained sequence sharing its longest prefix. If its caches do not fit in device
    /// memory while sequences are retained, those give way (all are freed) and it is tried once more from nothing.
    /// </remarks>
    public IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens)
    {
        bool speculative = request.Speculative && drafter is not null;
        try
        {
            return Create(request, onTokens, speculative, Prefixes.Find(request.PromptIds, speculative));
        }
        catch (DeviceOutOfMemoryException) when (Prefixes.Count > 0)
        {
            Prefixes.Clear();
            return Create(request, onTokens, speculative, null);
        }
    }

    private Session Create(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens, bool speculative, RetainedSequence? reuse)
    {
        int limit = Info.MaxContextTokens;
        if (!speculative)
            return new Session(new VanillaSession(target, request.PromptIds, request.Options, onTokens, limit, PrefillChunkTokens, reuse), null, Prefixes,
                request.ConversationId);
        // Another tree shape needs its own drafter (the shape fixes its draft cache layout); the head is shared.
        var d = request.Tree is null || request.Tree == drafter!.Tree ? drafter! : new EagleDrafter(drafter.Head, request.Tree, ownsHead: false);
        try
        {
            // A per-request adaptive tree on an engine loaded with a fixed one measures the costs on first use.
            var c = d.Tree.Adaptive ? costs ??= SpeculationCosts.Measure(target, d) : null;
            var session = new SpeculativeSession(target, d, request.PromptIds, request.Options, onTokens, limit, costs: c,
                prefillChunkTokens: PrefillChunkTokens, reuse: reuse, memory: acceptance);
            return new Session(session, d == drafter ? null : d, Prefixes, request.ConversationId);
        }
        catch
        {
            if (d != drafter) d.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Step(IReadOnlyList<IRequestSession> sessions) =>
        DecodingSession.Step(sessions.Select(s => ((Session)s).Decoding).ToArray());

    /// <inheritdoc/>
    public int RetainedPositions => Prefixes.Positions;

    // A decoding session and the per-request drafter it may need for a tree shape of its own. When it ends, its caches go
    // to the prefix cache (when reuse is on and the session is between steps) instead of being freed.
    private sealed class Session(DecodingSession decoding, EagleDrafter? ownDrafter, PrefixCache prefixes, string? conversationId) : IRequestSession
    {
        public DecodingSession Decoding { get; } = decoding;

        public bool Done => Decoding.Done;

        public GenerationResult Result => Decoding.Result;

        public Exception? Failure => Decoding.Failure;

        public DecodingProgress Progress => Decoding.Progress;

        public void Dispose()
        {
            if (prefixes.BudgetPositions > 0 && Decoding.Retain() is { } retained) prefixes.Add(retained, conversationId);
            Decoding.Dispose();
            ownDrafter?.Dispose();
        }
    }

    /// <summary>Resolves the options' device, dtype, layer placement and draft device once, into the plan the load follows.</summary>
    /// <exception cref="ArgumentException">The placement names an unusable device (the validator checked only its spelling).</exception>
    private static LoadPlan Plan(EagleOptions options)
    {
        try
        {
            return LoadPlan.Resolve(options.Device, options.DType, options.LayerPlacement, options.DraftDevice);
        }
        catch (FormatException e)
        {
            throw PlacementError(e);
        }
    }

    /// <summary>Loads the target as <paramref name="plan"/> says; a placement that does not cover its layers is refused naming the option.</summary>
    private static LlamaForCausalLM LoadTarget(string modelPath, LoadPlan plan, Action<int, int> progress)
    {
        try
        {
            return LlamaCheckpoint.Load(modelPath, plan, progress);
        }
        catch (ArgumentException e) when (plan.Placement is not null && e.ParamName == "placement")
        {
            throw PlacementError(e);
        }
    }

    private static ArgumentException PlacementError(Exception e) =>
        new($"EagleOptions.LayerPlacement: {e.Message}", nameof(EagleOptions.LayerPlacement), e);

    /// <summary>Reports every tensor to <paramref name="progress"/> and logs every tenth of them.</summary>
    private static Action<int, int> Progress(ILogger logger, IProgress<ModelLoadProgress>? progress, string what)
    {
        int lastTenth = -1;
        return (done, total) =>
        {
            progress?.Report(new ModelLoadProgress(what, done, total));
            int tenth = total == 0 ? 10 : done * 10 / total;
            if (tenth == lastTenth) return;
            lastTenth = tenth;
            Log.LoadProgress(logger, what, done, total);
        };
    }

    public void Dispose()
    {
        Prefixes.Dispose();                                 // retained caches go back to the slot pool first
        target.CachePool?.Dispose();
        drafter?.Dispose();
        target.Dispose();
    }

    /// <summary>The KV slots: idle now (and the tensors they hold), reused so far, allocated so far.</summary>
    internal (int Idle, int IdleTensors, int Reused, int Allocated) Slots =>
        target.CachePool is { } pool ? (pool.IdleCount, pool.IdleTensors, pool.Reused, pool.Allocated) : default;
}
