using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

public class JinjaFiltersTests
{
    [Fact]
    public void Numbers_print_as_python_prints_them_after_json_loads()
    {
        using var cases = TextTestData.Json("python-json-numbers.json");
        foreach (var entry in cases.RootElement.EnumerateArray())
        {
            string raw = entry.GetProperty("json").GetString()!;
            using var number = JsonDocument.Parse(raw);
            Assert.True(entry.GetProperty("python").GetString() == JinjaFilters.ToJson(number.RootElement), raw);
        }
    }

    [Theory]
    [InlineData("{}", null, "{}")]
    [InlineData("[]", 4, "[]")]
    [InlineData("{\"a\": [], \"b\": {}}", 2, "{\n  \"a\": [],\n  \"b\": {}\n}")]
    [InlineData("{\"a\":1,\"b\":[true,null,\"x\"]}", null, "{\"a\": 1, \"b\": [true, null, \"x\"]}")]
    [InlineData("\"caf\\u00e9 \\ud83e\\udd99 \\u2028 \\u007f\"", null, "\"café 🦙 \u2028 \u007f\"")]
    [InlineData("\"\\b\\f\\n\\r\\t\\u0000\\u001f\\\"\\\\/\"", null, "\"\\b\\f\\n\\r\\t\\u0000\\u001f\\\"\\\\/\"")]
    public void ToJson_uses_python_separators_and_escapes(string json, int? indent, string expected)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Equal(expected, JinjaFilters.ToJson(document.RootElement, indent));
    }

    [Theory]
    [InlineData("\"text\"", "text")]
    [InlineData("2.50", "2.5")]
    [InlineData("-0", "0")]
    [InlineData("1e400", "inf")]
    [InlineData("-1e400", "-inf")]
    [InlineData("true", "True")]
    [InlineData("false", "False")]
    [InlineData("null", "None")]
    public void ToText_prints_a_scalar_like_python_str(string json, string expected)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Equal(expected, JinjaFilters.ToText(document.RootElement));
    }

    [Theory]
    [InlineData("  a b \n", "a b")]
    [InlineData("\u3000\u00a0\u2003x\u001c\u001d\u001e\u001f\u0085\u2028\u2029", "x")]
    [InlineData("\u200bx\u200b", "\u200bx\u200b")]
    [InlineData("\ufeffx", "\ufeffx")]
    [InlineData("", "")]
    [InlineData(" \t\r\n\v\f ", "")]
    public void Trim_strips_what_python_str_strip_strips(string text, string expected) =>
        Assert.Equal(expected, JinjaFilters.Trim(text));
}
