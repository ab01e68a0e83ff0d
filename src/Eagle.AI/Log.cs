using Microsoft.Extensions.Logging;

namespace Eagle.AI;

/// <summary>The library's log messages (source-generated, so a disabled level costs nothing).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Loading model {ModelId} from {ModelPath} on {Device} as {DType}")]
    public static partial void LoadingModel(ILogger logger, string modelId, string modelPath, string device, string dtype);

    [LoggerMessage(2, LogLevel.Information, "Loading EAGLE draft head from {DraftPath}")]
    public static partial void LoadingDraft(ILogger logger, string draftPath);

    [LoggerMessage(3, LogLevel.Information, "Loading {What}: {Done}/{Total} tensors")]
    public static partial void LoadProgress(ILogger logger, string what, int done, int total);

    [LoggerMessage(4, LogLevel.Information, "Loaded {ModelId} in {Seconds:F1} s (draft head: {DraftKind})")]
    public static partial void Loaded(ILogger logger, string modelId, double seconds, string draftKind);

    [LoggerMessage(40, LogLevel.Information, "Token trie for constrained decoding: {Nodes} nodes over {Tokens} tokens, built in {Milliseconds:F0} ms while the model loaded")]
    public static partial void TokenTrieBuilt(ILogger logger, int nodes, int tokens, double milliseconds);

    [LoggerMessage(5, LogLevel.Information, "Warm-up request took {Milliseconds:F0} ms")]
    public static partial void WarmedUp(ILogger logger, double milliseconds);

    [LoggerMessage(6, LogLevel.Warning, "The tool mode required a function call, but the answer is not one; returning it as text: {Reason}")]
    public static partial void RequiredToolCallMissing(ILogger logger, string reason);

    [LoggerMessage(7, LogLevel.Debug, "The answer started like a tool call but is not one; returning it as text: {Reason}")]
    public static partial void NotAToolCall(ILogger logger, string reason);

    [LoggerMessage(8, LogLevel.Debug, "ChatOptions.{Option} is not supported by the local engine and is ignored")]
    public static partial void IgnoredOption(ILogger logger, string option);

    [LoggerMessage(9, LogLevel.Information, "Request done: {PromptTokens} prompt + {GeneratedTokens} generated tokens, {TargetForwards} target forwards, tau {Tau:F2}, {Reason}")]
    public static partial void RequestDone(ILogger logger, int promptTokens, int generatedTokens, int targetForwards, double tau, string reason);

    [LoggerMessage(10, LogLevel.Information, "Decoder layers placed as {Placement}")]
    public static partial void LayerPlacement(ILogger logger, string placement);

    [LoggerMessage(11, LogLevel.Information, "DType auto: {Reason}")]
    public static partial void AutoDType(ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Warning, "DType float16 on a CPU is emulated and slower than float32 or bfloat16")]
    public static partial void SlowCpuDType(ILogger logger);

    [LoggerMessage(13, LogLevel.Information, "Adaptive draft tree: one step {StepMs:F2} ms, a draft step {DraftStepMs:F2} ms ({NarrowDraftStepMs:F2} over a one-node beam), round bookkeeping {OverheadMs:F2} ms ({SmallOverheadMs:F2} for two tokens), the head's catch-up {CatchUpMs:F3} ms a token; verify cost {Curve}")]
    public static partial void SpeculationCosts(ILogger logger, double stepMs, double draftStepMs, double narrowDraftStepMs, double overheadMs, double smallOverheadMs, double catchUpMs, string curve);

    [LoggerMessage(20, LogLevel.Information, "Prefix cache: up to {Positions} positions of finished requests' KV kept for reuse ({MiB:F0} MiB), {How}")]
    public static partial void PrefixCacheBudget(ILogger logger, int positions, double miB, string how);

    [LoggerMessage(21, LogLevel.Information, "Batching: up to {MaxBatchSize} requests decoded together, each in a KV slot reused by later requests (up to {MaxBatchSize} kept idle); a request's KV takes {PositionKiB:F1} KiB a position, {FullContextMiB:F0} MiB at the full context of {ContextTokens} tokens")]
    public static partial void BatchMemory(ILogger logger, int maxBatchSize, double positionKiB, double fullContextMiB, int contextTokens);

    [LoggerMessage(30, LogLevel.Information, "Remote mode: model {ModelId} on the OpenAI-compatible server at {Endpoint}; no weights are loaded here")]
    public static partial void RemoteServer(ILogger logger, string endpoint, string modelId);

    [LoggerMessage(31, LogLevel.Information, "Remote mode ignores these local-engine options (the server's own settings decide them): {Options}")]
    public static partial void IgnoredRemotely(ILogger logger, string options);
}
