using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Constraints;

namespace Eagle.AI.Engine.Tests.Constraints;

public class TokenMaskTests
{
    private static readonly HashSet<int> Stops = [JsonTestVocabulary.Eos];
    private static readonly TokenTrie Vocabulary = new(JsonTestVocabulary.Create());

    public static readonly TheoryData<string?> Schemas = new()
    {
        null,
        """{"type":"object","properties":{"name":{"type":"string","maxLength":6},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b",1]},"maxItems":3}},"required":["name","age"],"additionalProperties":false}""",
        """{"type":"array","items":{"type":["number","null","boolean"]},"minItems":2,"maxItems":4}""",
        """{"anyOf":[{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"x"}},"required":["kind"],"additionalProperties":false}]}""",
        """{"type":"string","minLength":1,"maxLength":5}""",
        """{"type":"object","properties":{"when":{"type":"string","format":"date-time"},"id":{"type":["string","null"],"format":"uuid"}},"required":["when","id"],"additionalProperties":false}""",
        """{"$defs":{"n":{"type":"object","properties":{"a":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}},"required":["a"],"additionalProperties":false}},"$ref":"#/$defs/n"}""",
        // string patterns (an anchored subset)
        """{"type":"object","properties":{"kind":{"type":"string","pattern":"^[A-Z]{2}-\\d{1,3}$"},"tag":{"type":"string","pattern":"^[a-c]*x?$"}},"required":["kind","tag"],"additionalProperties":false}""",
        // integer bounds, an exact oneOf (discriminated branches), an allOf merged from a reference and extra properties
        """{"type":"object","properties":{"n":{"type":"integer","minimum":-12,"maximum":340},"m":{"type":"integer","exclusiveMinimum":5,"maximum":70}},"required":["n","m"],"additionalProperties":false}""",
        """{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer","maximum":9}},"required":["kind","x"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"b"},"s":{"type":"string","maxLength":3}},"required":["kind"],"additionalProperties":false},{"type":"array","items":{"type":"integer","minimum":0},"maxItems":2}]}""",
        """{"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer","minimum":1,"maximum":99}},"required":["id"]}},"allOf":[{"$ref":"#/$defs/base"},{"properties":{"id":true,"name":{"type":"string","maxLength":4}},"required":["name"],"additionalProperties":false}]}""",
    };

    private static OutputConstraint Constraint(string? schema) => new(
        schema is null ? JsonGrammar.AnyObject : JsonGrammar.FromSchema(JsonDocument.Parse(schema).RootElement), Vocabulary);

    // Random walks through the reachable states, choosing uniformly among the allowed tokens.
    private static IEnumerable<(JsonFrame State, byte[] Text)> ReachableStates(OutputConstraint c, int walks, int steps)
    {
        var allowed = new bool[Vocabulary.VocabularySize];
        for (int w = 0; w < walks; w++)
        {
            var random = new Random(w);
            var state = c.Start();
            var text = new List<byte>();
            for (int s = 0; s < steps; s++)
            {
                yield return (state, [.. text]);
                c.Allowed(state, Stops, allowed);
                var choices = Enumerable.Range(0, allowed.Length).Where(i => allowed[i] && !Stops.Contains(i)).ToArray();
                if (choices.Length == 0) break;
                int t = choices[random.Next(choices.Length)];
                state = c.Next(state, t, Stops)!;
                text.AddRange(Vocabulary.Bytes(t).ToArray());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void The_trie_mask_equals_trying_every_token(string? schema)
    {
        var c = Constraint(schema);
        var allowed = new bool[Vocabulary.VocabularySize];
        foreach (var (state, text) in ReachableStates(c, walks: 6, steps: 40))
        {
            c.Allowed(state, Stops, allowed);
            for (int t = 0; t < allowed.Length; t++)
                Assert.True(allowed[t] == (c.Next(state, t, Stops) is not null), $"token {t} after '{Show(text)}'");
        }
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Every_allowed_token_completes_to_a_valid_document_and_no_forbidden_one_does(string? schema)
    {
        var c = Constraint(schema);
        var allowed = new bool[Vocabulary.VocabularySize];
        foreach (var (state, text) in ReachableStates(c, walks: 3, steps: 25))
        {
            c.Allowed(state, Stops, allowed);
            for (int t = 0; t < allowed.Length; t++)
            {
                if (Stops.Contains(t))
                {
                    // The end is allowed exactly when the document so far is complete.
                    Assert.Equal(allowed[t], text.Length > 0 && SchemaValidator.IsValid(schema, Show(text)));
                    continue;
                }
                byte[] prefix = [.. text, .. Vocabulary.Bytes(t)];
                if (allowed[t])
                {
                    var done = Complete(c.Next(state, t, Stops)!);
                    Assert.True(done is not null, $"no completion after '{Show(prefix)}'");
                    Assert.True(SchemaValidator.IsValid(schema, Show([.. prefix, .. done])), Show([.. prefix, .. done]));
                }
                else if (Vocabulary.Bytes(t).Length > 0)
                {
                    // A forbidden token: no continuation of ours makes a valid document of it (ours are checked above).
                    Assert.False(c.Grammar.AcceptsPrefix(prefix), Show(prefix));
                }
            }
        }
    }

    private static string Show(byte[] utf8) => Encoding.UTF8.GetString(utf8);

    // Closing bytes first, then what keys, numbers and literals need, then UTF-8 continuation bytes.
    private static readonly byte[] Alphabet = [.. Encoding.UTF8.GetBytes("\"}]0:,1a-.enmgtsidkwhrulf xyzbc{[TZ+"), 0x80, 0x82, 0x98, 0xA9, 0xAC];

    // A depth-first search over single bytes for a completion (closing bytes tried first, so it is usually short).
    private static byte[]? Complete(JsonFrame state)
    {
        var path = new List<byte>();
        int budget = 100_000;
        bool Search(JsonFrame s, int depth)
        {
            if (s.IsComplete) return true;
            if (depth == 0 || --budget < 0) return false;
            foreach (byte b in Alphabet)
            {
                if (s.Step(b) is not { } next) continue;
                path.Add(b);
                if (Search(next, depth - 1)) return true;
                path.RemoveAt(path.Count - 1);
            }
            return false;
        }
        return Search(state, 80) ? [.. path] : null;
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Uniformly_random_allowed_tokens_always_spell_a_valid_document(string? schema)
    {
        var c = Constraint(schema);
        var allowed = new bool[Vocabulary.VocabularySize];
        int finished = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            var random = new Random(seed);
            var state = c.Start();
            var text = new List<byte>();
            for (int step = 0; step < 400; step++)
            {
                c.Allowed(state, Stops, allowed);
                var choices = Enumerable.Range(0, allowed.Length).Where(i => allowed[i]).ToArray();
                Assert.True(choices.Length > 0, $"nothing allowed after '{Show([.. text])}'");
                int t = choices[random.Next(choices.Length)];
                state = c.Next(state, t, Stops)!;
                if (Stops.Contains(t)) break;
                text.AddRange(Vocabulary.Bytes(t).ToArray());
            }
            if (!state.IsComplete) continue;                                    // ran out of budget mid-document
            finished++;
            Assert.True(SchemaValidator.IsValid(schema, Encoding.UTF8.GetString([.. text])), Encoding.UTF8.GetString([.. text]));
        }
        Assert.True(finished >= 10, $"only {finished} of 20 documents finished for {schema}");
    }

    [Fact]
    public void The_llama_vocabulary_masks_tokens_that_span_grammar_boundaries()
    {
        var tokenizer = Text.TextTestData.Tokenizer;
        var trie = TokenTrie.For(tokenizer);
        Assert.Same(trie, TokenTrie.For(tokenizer));                            // built once per tokenizer
        var c = new OutputConstraint(JsonGrammar.FromSchema(JsonDocument.Parse(
            """{"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}},"required":["a"],"additionalProperties":false}""").RootElement), trie);
        HashSet<int> stops = [.. tokenizer.StopIds];
        var state = c.Start();
        foreach (int t in tokenizer.Encode("{\"a\": [\"x"))
            state = c.Next(state, t, stops) ?? throw new InvalidOperationException($"token {t} refused");
        var allowed = new bool[tokenizer.VocabularySize];
        c.Allowed(state, stops, allowed);
        bool Allowed(string s) => tokenizer.Encode(s) is [int id] ? allowed[id] : throw new ArgumentException($"'{s}' is not one token");
        Assert.True(Allowed("\"],"[..^1]));                                     // '"]' closes the string and the array
        Assert.True(Allowed(" world"));
        Assert.False(Allowed("\"}"));                                           // '}' cannot close an array
        Assert.False(Allowed("\":"));
        Assert.False(allowed[tokenizer.EotId]);
        Assert.True(allowed.Count(a => a) > 100_000);                            // inside a string nearly everything goes
    }
}
