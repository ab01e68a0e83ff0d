using System.Text;
using System.Text.Json;
using Eagle.AI.Engine.Constraints;

namespace Eagle.AI.Engine.Tests.Constraints;

public class JsonGrammarTests
{
    private static JsonGrammar Schema(string json) => JsonGrammar.FromSchema(JsonDocument.Parse(json).RootElement);

    private static bool Accepts(JsonGrammar g, string text) => g.Accepts(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("{}", true)]
    [InlineData("{\"a\": [1, -2.5e-3, \"x\\u00e9\\n\", true, null, {\"b\": false}]}", true)]
    [InlineData("{\n  \"a\": 1\n}", true)]
    [InlineData("[1]", false)]                                           // JSON mode answers an object
    [InlineData(" {}", false)]                                           // nothing before the value
    [InlineData("{} ", false)]                                           // nor after it
    [InlineData("{\"a\":01}", false)]
    [InlineData("{\"a\":1.}", false)]
    [InlineData("{\"a\":\"\\uD83D\"}", false)]                           // a lone surrogate escape
    [InlineData("{\"a\":\"tab\there\"}", false)]                         // a raw control character
    [InlineData("{\"a\":1,\"a\":2}", false)]                             // a repeated key
    [InlineData("{\"a\":1,}", false)]
    public void Json_mode_accepts_one_object_and_nothing_else(string text, bool valid)
    {
        Assert.Equal(valid, Accepts(JsonGrammar.AnyObject, text));
        if (valid) Assert.True(SchemaValidator.IsValid(null, text));
    }

    [Fact]
    public void Whitespace_between_tokens_is_bounded()
    {
        Assert.True(Accepts(JsonGrammar.AnyObject, "{" + new string(' ', JsonFrame.MaxWhitespace) + "}"));
        Assert.False(JsonGrammar.AnyObject.AcceptsPrefix(Encoding.UTF8.GetBytes("{" + new string(' ', JsonFrame.MaxWhitespace + 1))));
    }

    [Fact]
    public void Utf8_is_checked_across_bytes()
    {
        Assert.True(JsonGrammar.AnyObject.Accepts([.. "{\"a\":\""u8, 0xE2, 0x82, 0xAC, .. "\"}"u8]));
        Assert.False(JsonGrammar.AnyObject.AcceptsPrefix([.. "{\"a\":\""u8, 0xE2, 0x41]));              // a character cut short
        Assert.False(JsonGrammar.AnyObject.AcceptsPrefix([.. "{\"a\":\""u8, 0xC0]));                    // an overlong lead byte
        Assert.False(JsonGrammar.AnyObject.AcceptsPrefix([.. "{\"a\":\""u8, 0xED, 0xA0]));              // a UTF-8 surrogate
        Assert.False(JsonGrammar.AnyObject.AcceptsPrefix([.. "{\"a\":\""u8, 0xE2, 0x82, .. "\""u8]));   // a quote mid-character
    }

    public static readonly TheoryData<string, string, bool> Cases = new()
    {
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}""", """{"a":3}""", true },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}""", """{"b":"x","a":-7}""", true },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}""", """{"b":"x"}""", false },
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}""", """{"a":1,"c":2}""", false },
        { """{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}""", """{"a":1.5}""", false },
        { """{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"boolean"}}""", """{"a":1,"c":true}""", true },
        { """{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"boolean"}}""", """{"c":1}""", false },
        { """{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":2}""", "[1e5]", true },
        { """{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":2}""", "[]", false },
        { """{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":2}""", "[1,2,3]", false },
        { """{"type":"string","minLength":2,"maxLength":3}""", "\"é\\n\"", true },
        { """{"type":"string","minLength":2,"maxLength":3}""", "\"abcd\"", false },
        { """{"type":"string","minLength":2,"maxLength":3}""", "\"a\"", false },
        { """{"enum":["red","green",3,null]}""", "\"green\"", true },
        { """{"enum":["red","green",3,null]}""", "3", true },
        { """{"enum":["red","green",3,null]}""", "\"blue\"", false },
        { """{"const":{"k":[1,"é"]}}""", """{"k":[1,"é"]}""", true },
        { """{"type":["string","null"]}""", "null", true },
        { """{"type":["string","null"]}""", "1", false },
        { """{"type":"boolean"}""", "false", true },
        { """{"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"integer"}}]}""", "[1,2]", true },
        { """{"anyOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false},{"type":"object","properties":{"y":{"type":"string"}},"required":["y"],"additionalProperties":false}]}""", """{"y":"v"}""", true },
        { """{"oneOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false},{"type":"object","properties":{"y":{"type":"string"}},"required":["y"],"additionalProperties":false}]}""", """{"x":"v"}""", false },
        { """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/node"}""", """{"v":1,"next":{"v":2,"next":null}}""", true },
        { """{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"n":{"type":"integer"}},"type":"array","items":{"$ref":"#/definitions/n"}}""", "[1,\"a\"]", false },
        { """{"type":"string","format":"date-time"}""", "\"2024-02-28T23:59:07.123Z\"", true },
        { """{"type":"string","format":"date-time"}""", "\"2024-12-01T08:00:00+02:00\"", true },
        { """{"type":"string","format":"date-time"}""", "\"2024-13-01T08:00:00Z\"", false },
        { """{"type":"string","format":"date"}""", "\"1999-01-09\"", true },
        { """{"type":["string","null"],"format":"uuid"}""", "\"0f8fad5b-d9cb-469f-a165-70867728950E\"", true },
        { """{"type":"string","format":"uuid"}""", "\"0f8fad5b-d9cb-469f-a165\"", false },
        // keywords outside the specification constrain nothing (Semantic Kernel writes "condition" into a function's schema)
        { """{"type":"object","condition":"Gets the weather.","x-note":1,"properties":{"city":{"type":"string"}},"required":["city"]}""", """{"city":"a"}""", true },
        { """{"type":"object","condition":"Gets the weather.","x-note":1,"properties":{"city":{"type":"string"}},"required":["city"]}""", "{}", false },
        // pattern: an anchored sequence of classes and quantifiers; on enum values; ignored on other types
        { """{"type":"string","pattern":"^[a-z]{2,4}-\\d+$"}""", "\"ab-12\"", true },
        { """{"type":"string","pattern":"^[a-z]{2,4}-\\d+$"}""", "\"a-1\"", false },
        { """{"type":"string","pattern":"^[a-z]{2,4}-\\d+$"}""", "\"abcde-1\"", false },
        { """{"type":"string","pattern":"^[a-z]{2,4}-\\d+$"}""", "\"ab-\"", false },
        { """{"type":"string","pattern":"^x?y*z\\.$"}""", "\"z.\"", true },
        { """{"type":"string","pattern":"^x?y*z\\.$"}""", "\"xyyz.\"", true },
        { """{"type":"string","pattern":"^x?y*z\\.$"}""", "\"xxz.\"", false },
        { """{"type":"string","pattern":"^x?y*z\\.$"}""", "\"yz\"", false },
        { """{"enum":["ab","Ab",3],"pattern":"^[a-z]+$"}""", "\"ab\"", true },
        { """{"enum":["ab","Ab",3],"pattern":"^[a-z]+$"}""", "\"Ab\"", false },
        { """{"enum":["ab","Ab",3],"pattern":"^[a-z]+$"}""", "3", true },
        { """{"type":"integer","pattern":"^a$"}""", "5", true },
        // integer bounds (inclusive, exclusive, fractional), also on enum values
        { """{"type":"integer","minimum":-3,"maximum":12}""", "12", true },
        { """{"type":"integer","minimum":-3,"maximum":12}""", "13", false },
        { """{"type":"integer","minimum":-3,"maximum":12}""", "-3", true },
        { """{"type":"integer","minimum":-3,"maximum":12}""", "-4", false },
        { """{"type":"integer","minimum":-3,"maximum":12}""", "-0", true },
        { """{"type":"integer","minimum":-3,"maximum":12}""", "120", false },
        { """{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":100}""", "0", false },
        { """{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":100}""", "99", true },
        { """{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":100}""", "100", false },
        { """{"type":"integer","minimum":1.5}""", "1", false },
        { """{"type":"integer","minimum":1.5}""", "2", true },
        { """{"type":["integer","null"],"maximum":-10}""", "-11", true },
        { """{"type":["integer","null"],"maximum":-10}""", "-9", false },
        { """{"enum":[1,5,"a"],"minimum":2}""", "1", false },
        { """{"enum":[1,5,"a"],"minimum":2}""", "5", true },
        { """{"enum":[1,5,"a"],"minimum":2}""", "\"a\"", true },
        // oneOf whose branches are provably disjoint: by type, by a const discriminator, by a required/forbidden key
        { """{"oneOf":[{"type":"integer"},{"type":"string"}]}""", "3", true },
        { """{"oneOf":[{"type":"integer"},{"type":"string"}]}""", "true", false },
        { """{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind","x"]},{"type":"object","properties":{"kind":{"const":"b"}},"required":["kind"]}]}""", """{"kind":"a","x":1}""", true },
        { """{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind","x"]},{"type":"object","properties":{"kind":{"const":"b"}},"required":["kind"]}]}""", """{"kind":"c"}""", false },
        { """{"oneOf":[{"enum":["x","y"]},{"type":"string","minLength":2}]}""", "\"xy\"", true },
        { """{"oneOf":[{"enum":["x","y"]},{"type":"string","minLength":2}]}""", "\"y\"", true },
        // allOf merged: a referenced definition plus extra properties; a $ref with sibling keywords
        { """{"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}},"allOf":[{"$ref":"#/$defs/base"},{"properties":{"id":true,"name":{"type":"string"}},"required":["name"],"additionalProperties":false}]}""", """{"id":1,"name":"a"}""", true },
        { """{"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}},"allOf":[{"$ref":"#/$defs/base"},{"properties":{"id":true,"name":{"type":"string"}},"required":["name"],"additionalProperties":false}]}""", """{"id":1}""", false },
        { """{"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}},"allOf":[{"$ref":"#/$defs/base"},{"properties":{"id":true,"name":{"type":"string"}},"required":["name"],"additionalProperties":false}]}""", """{"id":1,"name":"a","z":0}""", false },
        { """{"$defs":{"p":{"type":"integer"}},"$ref":"#/$defs/p","maximum":5}""", "5", true },
        { """{"$defs":{"p":{"type":"integer"}},"$ref":"#/$defs/p","maximum":5}""", "6", false },
        // the shape System.Text.Json's exporter writes for a nullable record member and a recursive reference
        { """{"type":"object","properties":{"child":{"type":["object","null"],"properties":{"name":{"type":"string"},"child":{"$ref":"#/properties/child"}}}}}""", """{"child":{"name":"a","child":{"name":"b","child":null}}}""", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Schema_keywords_agree_with_an_independent_validator(string schema, string document, bool valid)
    {
        Assert.Equal(valid, Accepts(Schema(schema), document));
        Assert.Equal(valid, SchemaValidator.IsValid(schema, document));
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a"}""", "pattern")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"number","minimum":0}}}""", "minimum")]
    [InlineData("""{"minimum":0}""", "minimum")]
    [InlineData("""{"type":"string","pattern":"^(a|b)$"}""", "pattern")]
    [InlineData("""{"type":"string","pattern":"^[^a]$"}""", "pattern")]
    [InlineData("""{"type":"string","pattern":"^a.b$"}""", "pattern")]
    [InlineData("""{"type":"string","pattern":"^[\\\"]$"}""", "pattern")]
    [InlineData("""{"type":"string","pattern":"^\\s$"}""", "pattern")]
    [InlineData("""{"type":"string","pattern":"^a$","maxLength":3}""", "pattern")]
    [InlineData("""{"type":"integer","exclusiveMaximum":true}""", "exclusiveMaximum")]
    [InlineData("""{"allOf":[{"type":"string","maxLength":3},{"maxLength":4}]}""", "allOf")]
    [InlineData("""{"allOf":[{"properties":{"a":{"type":"integer"}},"additionalProperties":false},{"properties":{"b":{"type":"integer"}}}]}""", "allOf")]
    [InlineData("""{"oneOf":[{"type":"number"},{"type":"integer"}]}""", "oneOf")]
    [InlineData("""{"oneOf":[{"const":1},{"const":1.0}]}""", "oneOf")]
    [InlineData("""{"oneOf":[{"type":"string"},{"const":"a"}]}""", "oneOf")]
    [InlineData("""{"oneOf":[{"type":"object","properties":{"a":{"type":"integer"}}},{"type":"object","properties":{"b":{"type":"integer"}}}]}""", "oneOf")]
    [InlineData("""{"$defs":{"n":{"oneOf":[{"$ref":"#/$defs/n"},{"type":"array"}]}},"$ref":"#/$defs/n"}""", "oneOf")]
    [InlineData("""{"type":"string","format":"email"}""", "format")]
    [InlineData("""{"type":"string","format":"time"}""", "format")]
    [InlineData("""{"type":"array","uniqueItems":true}""", "uniqueItems")]
    public void Unsupported_keywords_are_named(string schema, string keyword)
    {
        var e = Assert.Throws<UnsupportedSchemaException>(() => Schema(schema));
        Assert.Contains($"'{keyword}'", e.Message);
    }
}
