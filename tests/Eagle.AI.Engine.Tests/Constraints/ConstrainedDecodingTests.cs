using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Constraints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Tests.Decoding;

namespace Eagle.AI.Engine.Tests.Constraints;

/// <summary>
/// Constrained generation on tiny random models (test model C over <see cref="JsonTestVocabulary"/>): unconstrained
/// they write gibberish, so every valid document here is the constraint's work.
/// </summary>
public class ConstrainedDecodingTests
{
    private static readonly byte[]?[] Vocabulary = JsonTestVocabulary.Create();
    private static readonly TokenTrie Trie = new(Vocabulary);

    private const string Person = """{"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b",1]},"maxItems":3}},"required":["name","age","tags"],"additionalProperties":false}""";

    public static readonly TheoryData<string?> Schemas = new()
    {
        null,
        Person,
        """{"type":"array","items":{"type":["number","null","boolean"]},"minItems":2,"maxItems":4}""",
        """{"anyOf":[{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":false},{"type":"string","minLength":3,"maxLength":6}]}""",
        """{"$defs":{"n":{"type":"object","properties":{"a":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]},"s":{"type":"string","maxLength":4}},"required":["a","s"],"additionalProperties":false}},"$ref":"#/$defs/n"}""",
        """{"type":"object","properties":{"k":{"const":"é"},"v":{"type":"number"}},"required":["k","v"],"additionalProperties":false}""",
        // string patterns (an anchored subset)
        """{"type":"object","properties":{"kind":{"type":"string","pattern":"^[A-Z]{2}-\\d{1,3}$"},"tag":{"type":"string","pattern":"^[a-c]*x?$"}},"required":["kind","tag"],"additionalProperties":false}""",
        // integer bounds, an exact oneOf (discriminated branches), an allOf merged from a reference and extra properties
        """{"type":"object","properties":{"n":{"type":"integer","minimum":-12,"maximum":340},"m":{"type":"integer","exclusiveMinimum":5,"maximum":70}},"required":["n","m"],"additionalProperties":false}""",
        """{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer","maximum":9}},"required":["kind","x"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"b"},"s":{"type":"string","maxLength":3}},"required":["kind"],"additionalProperties":false},{"type":"array","items":{"type":"integer","minimum":0},"maxItems":2}]}""",
        """{"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer","minimum":1,"maximum":99}},"required":["id"]}},"allOf":[{"$ref":"#/$defs/base"},{"properties":{"id":true,"name":{"type":"string","maxLength":4}},"required":["name"],"additionalProperties":false}]}""",
    };

    private static OutputConstraint Constraint(string? schema) =>
        new(schema is null ? JsonGrammar.AnyObject : JsonGrammar.FromSchema(JsonDocument.Parse(schema).RootElement), Trie);

    private static string Text(IEnumerable<int> ids) =>
        Encoding.UTF8.GetString([.. ids.Where(t => t != JsonTestVocabulary.Eos).SelectMany(t => Vocabulary[t]!)]);

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Sampled_output_validates_against_the_schema(string? schema)
    {
        // A flat lm_head: the model's preferences are near-uniform noise, so the documents wander through the grammar.
        using var target = TestModels.Create("C", seed: 3, lmHeadScale: 0.5);
        var generator = new VanillaGenerator(target);
        var random = new Random(7);
        int finished = 0;
        for (int seed = 0; seed < 6; seed++)
        {
            var options = new GenerationOptions
            {
                MaxNewTokens = 200, Constraint = Constraint(schema),
                Sampling = new SamplingOptions { Temperature = 1f, Seed = seed },
            };
            var result = generator.Generate(TestModels.RandomPrompt(random, 5, 128), options);
            if (result.FinishReason == FinishReason.Length) continue;
            finished++;
            Assert.Equal(JsonTestVocabulary.Eos, result.OutputIds[^1]);
            Assert.True(SchemaValidator.IsValid(schema, Text(result.OutputIds)), Text(result.OutputIds));
        }
        Assert.True(finished >= 4, $"only {finished} of 6 answers finished");
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Greedy_speculative_equals_greedy_vanilla_under_the_constraint(string? schema)
    {
        using var target = TestModels.Create("C", seed: 5);
        var random = new Random(11);
        for (int i = 0; i < 3; i++)
        {
            int[] prompt = TestModels.RandomPrompt(random, 4 + i, 128);
            var options = new GenerationOptions { MaxNewTokens = 40, Constraint = Constraint(schema) };
            var expected = new VanillaGenerator(target).Generate(prompt, options).OutputIds;
            Assert.True(Constraint(schema).Grammar.AcceptsPrefix(Encoding.UTF8.GetBytes(Text(expected))));

            // Right 70% of the time (multi-token acceptance), and random drafts (mostly pruned by the grammar).
            using var oracle = new OracleDrafter([.. prompt, .. expected], 0.3, 5, 128, seed: i);
            Assert.Equal(expected, new SpeculativeGenerator(target, oracle).Generate(prompt, options).OutputIds);
            using var scripted = new ScriptedDrafter(128, 6, seed: i);
            Assert.Equal(expected, new SpeculativeGenerator(target, scripted).Generate(prompt, options).OutputIds);
        }
    }

    [Fact]
    public void Sampled_speculative_output_validates_with_deterministic_and_sampled_drafts()
    {
        string schema = Person;
        using var target = TestModels.Create("C", seed: 3, lmHeadScale: 0.5);
        var q = Enumerable.Repeat(1f / 128, 128).ToArray();
        int finished = 0;
        for (int seed = 0; seed < 4; seed++)
        {
            var options = new GenerationOptions
            {
                MaxNewTokens = 200, Constraint = Constraint(schema),
                Sampling = new SamplingOptions { Temperature = 1f, Seed = seed },
            };
            using Engine.Drafting.IDrafter drafter = seed % 2 == 0 ? new ScriptedDrafter(128, 8, seed) : new SampledStaticDrafter(q, 8, seed);
            var result = new SpeculativeGenerator(target, drafter).Generate([5, 6, 7], options);
            if (result.FinishReason == FinishReason.Length) continue;
            finished++;
            Assert.True(SchemaValidator.IsValid(schema, Text(result.OutputIds)), Text(result.OutputIds));
        }
        Assert.True(finished >= 3, $"only {finished} of 4 answers finished");
    }
}
