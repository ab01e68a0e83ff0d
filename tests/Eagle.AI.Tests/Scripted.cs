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
    public static EagleEngine Engine(Func<EngineRequest, IReadOnlyList<int>> answer, EngineInfo? info = null, int roundSize = 3) =>
        new(TestModel.Tokenizer, Source(answer, roundSize), info ?? Info());

    /// <summary>Plays the script like a generator: rounds of ids, cut after a stop id or at the budget, cancellable between rounds.</summary>
    public static TokenSource Source(Func<EngineRequest, IReadOnlyList<int>> answer, int roundSize = 3) => (request, onTokens, cancellationToken) =>
    {
        var ids = answer(request);
        var stop = new HashSet<int>(request.Options.StopTokenIds ?? StopIds);
        var output = new List<int>();
        int rounds = 0;
        bool done = false;
        for (int at = 0; at < ids.Count && !done; at += roundSize)
        {
            if (rounds > 0) cancellationToken.ThrowIfCancellationRequested();
            var round = new List<int>();
            foreach (int id in ids.Skip(at).Take(roundSize))
            {
                round.Add(id);
                if (stop.Contains(id) || output.Count + round.Count >= request.Options.MaxNewTokens)
                {
                    done = true;
                    break;
                }
            }
            output.AddRange(round);
            rounds++;
            onTokens(round);
        }
        var reason = output.Count > 0 && stop.Contains(output[^1]) ? FinishReason.Stop : FinishReason.Length;
        return new GenerationResult(output, reason, new GenerationStats
        {
            PromptTokens = request.PromptIds.Count,
            GeneratedTokens = output.Count,
            TargetForwards = rounds,
            Rounds = Math.Max(0, rounds - 1),
            AcceptedDraftTokens = Math.Max(0, output.Count - rounds),
        });
    };

    /// <summary>The ids of <paramref name="text"/> followed by an end id.</summary>
    public static int[] Answer(string text, int end = Llama3SpecialTokens.EndOfTurn) => [.. TestModel.Tokenizer.Encode(text), end];

    /// <summary>The prompt of a request as the template renders it.</summary>
    public static string Rendered(EngineRequest request) => TestModel.Tokenizer.Decode(request.PromptIds, includeSpecialTokens: true);
}
