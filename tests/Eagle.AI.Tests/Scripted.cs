using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Text;
using static TorchSharp.torch;

namespace Eagle.AI.Tests;

/// <summary>
/// Engines whose "model" answers from a script: the real queue, thread, detokenizer, chat format and tool-call path,
/// with token ids a random model would never produce (tool calls, chosen text).
/// </summary>
internal static class Scripted
{
    public const string ModelId = "scripted-model";

    public static readonly int[] StopIds = [Llama3SpecialTokens.EndOfText, Llama3SpecialTokens.EndOfMessage, Llama3SpecialTokens.EndOfTurn];

    public static EngineInfo Info(bool hasDraft = false, GenerationDefaults? defaults = null, int maxContextTokens = 8192) => new(
        ModelId, Path.GetTempPath(), ChatFormatVersion.Llama31, defaults ?? GenerationDefaults.Greedy(StopIds), maxContextTokens,
        hasDraft, hasDraft, hasDraft ? TreeSettings.Default : null, CPU, ScalarType.Float32);

    /// <summary>An engine that answers each request with <paramref name="answer"/>'s ids, <paramref name="roundSize"/> per round.</summary>
    public static EagleEngine Engine(Func<EngineRequest, IReadOnlyList<int>> answer, EngineInfo? info = null, int roundSize = 3,
        int maxBatchSize = 8, int maxQueuedRequests = 64) =>
        new(TestModel.Tokenizer, new Decoder(answer, roundSize), info ?? Info(), null, maxBatchSize, maxQueuedRequests);

    /// <summary>
    /// Plays the script like the model: one round of ids per step, cut after a stop id or at the budget; each step first
    /// waits for <paramref name="gate"/>, when given (so a test can queue requests before any step runs).
    /// </summary>
    public sealed class Decoder(Func<EngineRequest, IReadOnlyList<int>> answer, int roundSize = 3, ManualResetEventSlim? gate = null) : IRequestDecoder
    {
        /// <summary>Largest number of sessions stepped together so far.</summary>
        public int LargestBatch { get; private set; }

        public IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens) =>
            new Session(request, answer(request), roundSize, onTokens);

        public void Step(IReadOnlyList<IRequestSession> sessions)
        {
            gate?.Wait(TimeSpan.FromSeconds(20));
            LargestBatch = Math.Max(LargestBatch, sessions.Count);
            foreach (var s in sessions) ((Session)s).Round();
        }
    }

    private sealed class Session(EngineRequest request, IReadOnlyList<int> ids, int roundSize, Func<IReadOnlyList<int>, bool> onTokens) : IRequestSession
    {
        private readonly HashSet<int> stop = new(request.Options.StopTokenIds ?? StopIds);
        private readonly List<int> output = [];
        private int rounds;
        private bool stopped;

        public bool Done { get; private set; }

        public void Round()
        {
            var round = new List<int>();
            foreach (int id in ids.Skip(output.Count).Take(roundSize))
            {
                round.Add(id);
                if (stop.Contains(id) || output.Count + round.Count >= request.Options.MaxNewTokens) { Done = true; break; }
            }
            output.AddRange(round);
            rounds++;
            if (output.Count >= ids.Count) Done = true;
            if (!onTokens(round)) { Done = true; stopped = true; }
        }

        public GenerationResult Result
        {
            get
            {
                var reason = stopped || (output.Count > 0 && stop.Contains(output[^1])) ? FinishReason.Stop : FinishReason.Length;
                return new GenerationResult(output.ToArray(), reason, new GenerationStats
                {
                    PromptTokens = request.PromptIds.Count,
                    GeneratedTokens = output.Count,
                    TargetForwards = rounds,
                    Rounds = Math.Max(0, rounds - 1),
                    AcceptedDraftTokens = Math.Max(0, output.Count - rounds),
                });
            }
        }

        public void Dispose() { }
    }

    /// <summary>The ids of <paramref name="text"/> followed by an end id.</summary>
    public static int[] Answer(string text, int end = Llama3SpecialTokens.EndOfTurn) => [.. TestModel.Tokenizer.Encode(text), end];

    /// <summary>The prompt of a request as the template renders it.</summary>
    public static string Rendered(EngineRequest request) => TestModel.Tokenizer.Decode(request.PromptIds, includeSpecialTokens: true);
}
