using System.Globalization;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using Eagle.AI.Engine.Text;

namespace Eagle.Cli.Commands;

/// <summary>
/// <c>bench --multi-turn</c>: two-turn conversations, the second turn's prompt being the first turn's prompt, its answer
/// and a new question (as a chat template renders them). Time to first token of turn 2 when it starts from turn 1's
/// retained K/V (<see cref="PrefixCache"/>) and when it prefills everything, side by side, and the share of turn 2's
/// prompt served from the cache.
/// </summary>
internal static class MultiTurnBench
{
    /// <summary>
    /// The two turns of each conversation: question files render them in the chat format, else random ids. Turn 2 holds
    /// turn 1's answer as text (decoded and encoded again, as a chat client sends it back) or, with
    /// <paramref name="answerIds"/>, as the very ids generated: a random model's text does not survive that round trip
    /// (it repeats tokens that re-encode as a few long ones), a real model's does.
    /// </summary>
    public static List<(int[] Turn1, Func<IReadOnlyList<int>, int[]> Turn2)> Conversations(string? modelFolder, string? questionsFile,
        int limit, int promptTokens, int vocab, bool answerIds = false)
    {
        if (questionsFile is null)
        {
            var random = new Random(7);
            return [.. Enumerable.Range(0, limit).Select(_ =>
            {
                int[] first = [.. Enumerable.Range(0, promptTokens).Select(_ => random.Next(vocab))];
                int[] more = [.. Enumerable.Range(0, 16).Select(_ => random.Next(vocab))];
                return (first, (Func<IReadOnlyList<int>, int[]>)(answer => [.. first, .. answer, .. more]));
            })];
        }
        var questions = QuestionFile.Read(questionsFile, limit, modelFolder);
        var tokenizer = questions.Tokenizer;
        return [.. questions.Turns.Select(turns =>
        {
            string q1 = turns[0], q2 = turns.Length > 1 ? turns[1] : "Go on.";
            int[] first = questions.Render(PromptMessage.User(q1));
            // What follows an answer: its end of turn and the next question (the template renders an answer as
            // header + text + <|eot_id|>, and turn 1's prompt already ends with the header).
            int[] emptyAnswer = questions.Render(PromptMessage.User(q1), PromptMessage.Assistant(""), PromptMessage.User(q2));
            if (!emptyAnswer.AsSpan(0, first.Length).SequenceEqual(first))
                throw new InvalidOperationException("the chat format does not render turn 2 as an extension of turn 1");
            int[] after = emptyAnswer[first.Length..];
            return (first, (Func<IReadOnlyList<int>, int[]>)(answer =>
            {
                int[] kept = [.. answer.Where(t => !tokenizer.StopIds.Contains(t))];
                if (answerIds) return [.. first, .. kept, .. after];
                return questions.Render(PromptMessage.User(q1), PromptMessage.Assistant(tokenizer.Decode(kept)), PromptMessage.User(q2));
            }));
        })];
    }

    public static Dictionary<string, object> Run(LlamaForCausalLM target, IDrafter? drafter, SpeculationCosts? costs,
        List<(int[] Turn1, Func<IReadOnlyList<int>, int[]> Turn2)> conversations, GenerationOptions options, int contextLimit)
    {
        var modes = new List<(string Name, Func<int[], RetainedSequence?, DecodingSession> Start)>
        {
            ("vanilla", (p, reuse) => new VanillaGenerator(target, contextLimit).Start(p, options, reuse: reuse)),
        };
        if (drafter is not null)
            modes.Add(("speculative", (p, reuse) => new SpeculativeGenerator(target, drafter, contextLimit) { Costs = costs }.Start(p, options, reuse: reuse)));
        using (var warm = modes[0].Start(conversations[0].Turn1, null)) warm.Step();

        var rows = new List<Dictionary<string, object>>();
        foreach (var (name, start) in modes)
        {
            double withReuse = 0, without = 0, cached = 0, prompt2 = 0;
            foreach (var (turn1, turn2Of) in conversations)
            {
                RetainedSequence retained;
                int[] turn2;
                using (var first = start(turn1, null))
                {
                    while (!first.Done) first.Step();
                    turn2 = turn2Of(first.Output);
                    retained = first.Retain()!;
                }
                using var _ = retained;
                using (var fresh = start(turn2, null))
                {
                    while (!fresh.PrefillComplete) fresh.Step();                  // TTFT: until the first token, chunks included
                    without += fresh.Result.Stats.PrefillMs;
                }
                using (var reusing = start(turn2, retained))
                {
                    while (!reusing.PrefillComplete) reusing.Step();
                    withReuse += reusing.Result.Stats.PrefillMs;
                    cached += reusing.CachedPromptTokens;
                }
                prompt2 += turn2.Length;
            }
            int n = conversations.Count;
            rows.Add(new Dictionary<string, object>
            {
                ["mode"] = name,
                ["turn2_prompt_tokens"] = Math.Round(prompt2 / n, 1),
                ["turn2_ttft_ms_without_reuse"] = Math.Round(without / n, 1),
                ["turn2_ttft_ms_with_reuse"] = Math.Round(withReuse / n, 1),
                ["ttft_speedup"] = Math.Round(without / withReuse, 2),
                ["cached_fraction"] = Math.Round(cached / prompt2, 3),
            });
        }
        return new Dictionary<string, object>
        {
            ["device"] = target.Device.ToString(),
            ["dtype"] = TorchRuntime.Name(target.DType),
            ["conversations"] = conversations.Count,
            ["max_new_tokens"] = options.MaxNewTokens,
            ["modes"] = rows,
        };
    }

    public static void Print(Dictionary<string, object> r)
    {
        Console.WriteLine($"device {r["device"]} {r["dtype"]}; {r["conversations"]} two-turn conversations, answers of up to {r["max_new_tokens"]} tokens");
        Console.WriteLine($"{"mode",-12}{"turn-2 prompt",15}{"TTFT no reuse ms",18}{"TTFT reuse ms",15}{"speedup",9}{"cached",8}");
        foreach (var m in (List<Dictionary<string, object>>)r["modes"])
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{m["mode"],-12}{m["turn2_prompt_tokens"],15}{m["turn2_ttft_ms_without_reuse"],18}{m["turn2_ttft_ms_with_reuse"],15}{m["ttft_speedup"],8}×{(double)m["cached_fraction"],8:P0}"));
    }
}
