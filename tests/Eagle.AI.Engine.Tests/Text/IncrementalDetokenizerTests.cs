using System.Text;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

public class IncrementalDetokenizerTests
{
    private static Llama3Tokenizer Tokenizer => TextTestData.Tokenizer;

    /// <summary>Real text, code, CJK, Cyrillic, Devanagari and emoji (several split across tokens).</summary>
    private static readonly string[] s_corpus =
    [
        "The quick brown fox jumps over the lazy dog.",
        "def f(x):\n    return x**2  # square\n\tprint(\"héllo\")\n",
        "日本語のテキストです。東京は大きな都市です。",
        "Здравствуй, мир! Как дела?",
        "नमस्ते दुनिया",
        "emoji 🦙🚀 and 👩‍👩‍👧 family ⭐️🇫🇷 done",
        "mixed 中文 and English — “quotes” … ½ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ];

    public static TheoryData<int> Seeds() => [1, 2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_batches_reproduce_the_full_decode(int seed)
    {
        var random = new Random(seed);
        var texts = s_corpus.Concat(TextTestData.EvalSets.Select(set => TextTestData.EvalTurns(set).ElementAt(seed)));
        foreach (string text in texts)
        {
            int[] ids = Tokenizer.Encode(text);
            var detokenizer = new IncrementalDetokenizer(Tokenizer);
            var deltas = FeedInRandomBatches(detokenizer, ids, random, out _);

            Assert.Equal(Tokenizer.Decode(ids), string.Concat(deltas));
            Assert.Equal(text, string.Concat(deltas));
            Assert.All(deltas, delta => Assert.DoesNotContain('\uFFFD', delta));
        }
    }

    [Fact]
    public void One_id_at_a_time_never_emits_half_a_character()
    {
        int[] ids = Tokenizer.Encode("🦙🚀👩‍👧");
        var detokenizer = new IncrementalDetokenizer(Tokenizer);
        var emitted = new StringBuilder();

        foreach (int id in ids)
        {
            string delta = detokenizer.Append([id]).Text;
            Assert.DoesNotContain('\uFFFD', delta);
            Assert.False(delta.Length > 0 && char.IsHighSurrogate(delta[^1]));
            emitted.Append(delta);
        }
        emitted.Append(detokenizer.Flush().Text);

        Assert.Equal("🦙🚀👩‍👧", emitted.ToString());
    }

    [Fact]
    public void An_incomplete_trailing_character_becomes_a_replacement_character_on_flush()
    {
        int[] ids = Tokenizer.Encode("ok 🦙");
        int[] cut = ids[..^1];
        var detokenizer = new IncrementalDetokenizer(Tokenizer);

        string text = detokenizer.Append(cut).Text + detokenizer.Flush().Text;

        Assert.Equal(Tokenizer.Decode(cut), text);
        Assert.EndsWith("\uFFFD", text);
        Assert.True(detokenizer.IsFinished);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Stop_strings_straddling_batches_are_caught_and_never_partly_emitted(int seed)
    {
        var random = new Random(seed);
        string[] stops = ["<|user|>", "\nObservation:", "🛑 stop", "END"];
        string[] texts =
        [
            "The answer is 42.\nObservation: ignored",
            "Thought: go on <|user|> never shown",
            "emoji 🦙 then 🛑 stop and more",
            "Almost ENd, EN and then END.",
            "日本語 END 日本語",
        ];
        foreach (string text in texts)
        {
            int[] ids = Tokenizer.Encode(text);
            var detokenizer = new IncrementalDetokenizer(Tokenizer, stops);
            var deltas = FeedInRandomBatches(detokenizer, ids, random, out string? stop);

            int cut = stops.Select(s => (Index: text.IndexOf(s, StringComparison.Ordinal), Stop: s))
                .Where(x => x.Index >= 0).Min(x => x.Index);
            Assert.Equal(text[..cut], string.Concat(deltas));
            Assert.NotNull(stop);
            Assert.StartsWith(stop, text[cut..], StringComparison.Ordinal);
            Assert.Equal(stop, detokenizer.StopString);
        }
    }

    [Fact]
    public void A_possible_stop_prefix_is_held_back_until_it_cannot_be_a_stop()
    {
        var detokenizer = new IncrementalDetokenizer(Tokenizer, ["STOP"]);

        Assert.Equal("Hello ", detokenizer.Append(Tokenizer.Encode("Hello ST")).Text);
        Assert.Equal("STOw", detokenizer.Append(Tokenizer.Encode("Ow")).Text);
        Assert.Equal(" ", detokenizer.Append(Tokenizer.Encode(" STO")).Text);
        var end = detokenizer.Flush();
        Assert.Equal("STO", end.Text);
        Assert.False(end.Stopped);
    }

    [Fact]
    public void The_earliest_completed_stop_wins_and_the_longest_on_a_tie()
    {
        var earliest = new IncrementalDetokenizer(Tokenizer, ["abcd", "bc"]);
        var result = earliest.Append(Tokenizer.Encode("xabcd"));
        Assert.Equal(("xa", "bc"), (result.Text, result.StopString));

        var tie = new IncrementalDetokenizer(Tokenizer, ["bc", "abc"]);
        result = tie.Append(Tokenizer.Encode("xabc"));
        Assert.Equal(("x", "abc"), (result.Text, result.StopString));
    }

    [Fact]
    public void Nothing_is_emitted_after_a_stop()
    {
        var detokenizer = new IncrementalDetokenizer(Tokenizer, ["END"]);
        Assert.True(detokenizer.Append(Tokenizer.Encode("done END more")).Stopped);

        Assert.Equal(new DetokenizedText("", null), detokenizer.Append(Tokenizer.Encode("more")));
        Assert.Equal(new DetokenizedText("", null), detokenizer.Flush());
        Assert.True(detokenizer.IsFinished);
    }

    [Fact]
    public void Special_ids_produce_no_text_unless_asked()
    {
        int[] ids = [.. Tokenizer.Encode("Hi"), Tokenizer.EotId];

        var plain = new IncrementalDetokenizer(Tokenizer);
        Assert.Equal("Hi", plain.Append(ids).Text + plain.Flush().Text);

        var withSpecials = new IncrementalDetokenizer(Tokenizer, ["<|eot_id|>"], includeSpecialTokens: true);
        var result = withSpecials.Append(ids);
        Assert.Equal(("Hi", "<|eot_id|>"), (result.Text, result.StopString));
    }

    [Fact]
    public void Empty_stop_strings_are_rejected() =>
        Assert.Throws<ArgumentException>(() => new IncrementalDetokenizer(Tokenizer, ["ok", ""]));

    private static List<string> FeedInRandomBatches(IncrementalDetokenizer detokenizer, int[] ids, Random random, out string? stop)
    {
        var deltas = new List<string>();
        stop = null;
        for (int at = 0; at < ids.Length && stop is null;)
        {
            int size = Math.Min(random.Next(1, 7), ids.Length - at);
            var result = detokenizer.Append(ids.AsSpan(at, size));
            deltas.Add(result.Text);
            stop = result.StopString;
            at += size;
        }
        if (stop is null)
        {
            var end = detokenizer.Flush();
            deltas.Add(end.Text);
            stop = end.StopString;
        }
        return deltas;
    }
}
