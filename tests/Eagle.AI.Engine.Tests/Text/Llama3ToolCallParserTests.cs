using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

public class Llama3ToolCallParserTests
{
    [Theory]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("  \n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n")]
    [InlineData("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}")]
    [InlineData("<|python_tag|>{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("<|python_tag|> {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eom_id|>")]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>")]
    [InlineData("{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}")]
    [InlineData("<function=get_weather>{\"city\": \"Paris\"}</function>")]
    [InlineData("<function=get_weather> {\"city\": \"Paris\"} </function><|eot_id|>")]
    [InlineData("{\"parameters\": {\"city\": \"Paris\"}, \"name\": \"get_weather\"}")]
    public void A_single_call_is_recognised_in_every_accepted_form(string output)
    {
        Assert.True(Llama3ToolCallParser.TryParse(output, out var calls));

        var call = Assert.Single(calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments["city"].GetString());
    }

    [Theory]
    [InlineData("{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", \"parameters\": {\"y\": [2]}}")]
    [InlineData("{\"name\": \"a\", \"parameters\": {\"x\": 1}}\n{\"name\": \"b\", \"arguments\": {\"y\": [2]}}")]
    [InlineData("<|python_tag|>{\"name\": \"a\", \"parameters\": {\"x\": 1}};\n{\"name\": \"b\", \"parameters\": {\"y\": [2]}};")]
    [InlineData("<function=a>{\"x\": 1}</function>\n<function=b>{\"y\": [2]}</function>")]
    [InlineData("<function=a>{\"x\": 1}</function>;<function=b>{\"y\": [2]}</function>")]
    public void Several_calls_separated_by_semicolons_or_new_lines_are_all_returned(string output)
    {
        Assert.True(Llama3ToolCallParser.TryParse(output, out var calls));

        Assert.Equal(["a", "b"], calls.Select(c => c.Name));
        Assert.Equal(1, calls[0].Arguments["x"].GetInt32());
        Assert.Equal(2, calls[1].Arguments["y"][0].GetInt32());
    }

    [Fact]
    public void Arguments_keep_order_and_json_types_and_outlive_the_parser()
    {
        Assert.True(Llama3ToolCallParser.TryParse(
            "{\"name\": \"f\", \"parameters\": {\"s\": \"Zürich 🦙\", \"n\": 2.5, \"b\": true, \"z\": null, \"o\": {\"k\": [1]}, \"s\": \"last\"}}",
            out var calls));

        var arguments = calls[0].Arguments;
        Assert.Equal(["s", "n", "b", "z", "o"], arguments.Keys);
        Assert.Equal("last", arguments["s"].GetString());
        Assert.Equal(2.5, arguments["n"].GetDouble());
        Assert.Equal(JsonValueKind.True, arguments["b"].ValueKind);
        Assert.Equal(JsonValueKind.Null, arguments["z"].ValueKind);
        Assert.Equal(1, arguments["o"].GetProperty("k")[0].GetInt32());
        Assert.Equal("{\"s\":\"last\",\"n\":2.5,\"b\":true,\"z\":null,\"o\":{\"k\":[1]}}", calls[0].ToPromptToolCall().Arguments.GetRawText());
    }

    public static TheoryData<string> MalformedOutputs() =>
    [
        "",
        "   ",
        "Hello! How can I help you today?",
        "Sure: {\"name\": \"f\", \"parameters\": {}}",
        "{",
        "{\"name\": \"f\"",
        "{\"name\": \"f\", \"parameters\": {\"x\": 1}",
        "{\"name\": \"f\", \"parameters\": {\"x\": }}",
        "{\"name\": \"f\", \"parameters\": {\"x\": 1}} and some text",
        "{\"name\": \"f\"}",
        "{\"parameters\": {\"x\": 1}}",
        "{\"name\": 3, \"parameters\": {}}",
        "{\"name\": \"\", \"parameters\": {}}",
        "{\"name\": \"f\", \"parameters\": [1, 2]}",
        "{\"name\": \"f\", \"parameters\": \"not json\"}",
        "{\"name\": \"f\", \"arguments\": \"[1]\"}",
        "{\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\"",
        "{\"name\": \"f\", \"parameters\": {}} {oops}",
        "{'name': 'f', 'parameters': {}}",
        "{\"name\": \"f\", \"parameters\": {},}",
        "[{\"name\": \"f\", \"parameters\": {}}]",
        "<|python_tag|>",
        "<|python_tag|>print('hello')",
        "<|python_tag|>brave_search.call(query=\"weather\")",
        "<function=f>{\"x\": 1}",
        "<function=f>{\"x\": 1</function>",
        "<function=f>[1]</function>",
        "<function=>{}</function>",
        "<function=f>{}</function> trailing words",
        "<function=f {}</function>",
        "{\"name\": \"f\", \"parameters\": {\"deep\": " + new string('[', 100) + new string(']', 100) + "}}",
        "{\"name\": \"f\", \"parameters\": {}}}",
    ];

    [Theory]
    [MemberData(nameof(MalformedOutputs))]
    public void Malformed_or_truncated_output_is_plain_text(string output)
    {
        Assert.False(Llama3ToolCallParser.TryParse(output, out var calls));
        Assert.Empty(calls);
    }

    [Theory]
    [InlineData("{\"name\"", true)]
    [InlineData("  \n {", true)]
    [InlineData("<|python_tag|>", true)]
    [InlineData("<function=get", true)]
    [InlineData("", false)]
    [InlineData("  ", false)]
    [InlineData("<|pyth", false)]
    [InlineData("<func", false)]
    [InlineData("The answer is {x}", false)]
    [InlineData("[{\"name\": \"f\"}]", false)]
    public void LooksLikeToolCallStart_checks_the_first_non_white_space_text(string text, bool expected) =>
        Assert.Equal(expected, Llama3ToolCallParser.LooksLikeToolCallStart(text));

    [Theory]
    [InlineData("", ToolCallStart.Undecided)]
    [InlineData(" \n", ToolCallStart.Undecided)]
    [InlineData("<", ToolCallStart.Undecided)]
    [InlineData(" <|pyth", ToolCallStart.Undecided)]
    [InlineData("<func", ToolCallStart.Undecided)]
    [InlineData("{", ToolCallStart.ToolCall)]
    [InlineData("<|python_tag|>{", ToolCallStart.ToolCall)]
    [InlineData("<function=f>", ToolCallStart.ToolCall)]
    [InlineData("<b>bold</b>", ToolCallStart.PlainText)]
    [InlineData("Hello", ToolCallStart.PlainText)]
    public void ClassifyStart_holds_back_partial_markers(string text, ToolCallStart expected) =>
        Assert.Equal(expected, Llama3ToolCallParser.ClassifyStart(text));
}
