using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Testing;
using static TorchSharp.torch;

namespace Eagle.AI.Tests;

/// <summary>
/// How deep the tiny chat model's head is accepted on its own script, greedy: the head is trained with the training-time
/// test, so drafts fed the head's own outputs must keep being accepted several tokens deep, not just the first.
/// </summary>
public class TinyChatAcceptanceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void The_head_is_accepted_several_tokens_deep_on_every_scripted_answer()
    {
        double tau = Tau(TinyChatModel.Tree, out int answers);
        output.WriteLine($"τ = {tau:F2} over {answers} scripted answers, tree {TinyChatModel.Tree}");
        Assert.True(tau >= MinimumTau, $"τ = {tau:F2} on the script with {TinyChatModel.Tree}, want ≥ {MinimumTau}");
    }

    // Measured 5.62 on these answers (5.43 on all 152) with the test tree; the same recipe with teacher forcing only
    // (UnrollSteps = 1) reached 1.97 on all 152. A rebuild elsewhere sums in another order, hence the margin.
    private const double MinimumTau = 4.0;

    private static double Tau(TreeSettings tree, out int answers)
    {
        Eagle.AI.Engine.Runtime.TorchRuntime.EnsureInitialized();
        using var target = LlamaCheckpoint.Load(TinyChatModel.Folder, ScalarType.Float32, CPU);
        using var drafter = EagleDrafter.Load(TinyChatModel.DraftFolder, target, tree);
        var speculative = new SpeculativeGenerator(target, drafter);
        double tokens = 0, rounds = 0;
        // Every 8th answer: each kind of turn (plain, two-turn, tool call, tool result) under several system prompts,
        // at a fraction of the cost of all 152.
        var script = TinyChatModel.ScriptedAnswers().Where((_, i) => i % 8 == 0).ToList();
        foreach (var (prompt, answer) in script)
        {
            var r = speculative.Generate(prompt, new GenerationOptions { MaxNewTokens = answer.Length, StopTokenIds = [] });
            Assert.Equal(answer, r.OutputIds);
            tokens += r.Stats.GeneratedTokens - 1;
            rounds += r.Stats.Rounds;
        }
        answers = script.Count;
        return tokens / rounds;
    }
}
