using System.Text.Json;
using Eagle.AI.Engine.Text;

namespace Eagle.AI.Engine.Tests.Text;

public class ConversationJsonTests
{
    [Fact]
    public void The_reference_file_parses_with_its_vars()
    {
        var conversations = ConversationJson.ParseConversations(File.ReadAllText(TextTestData.File("llama3_1-reference-prompts.json")));

        Assert.Equal(8, conversations.Count);
        var toolCall = conversations[5];
        Assert.Equal([PromptRole.User, PromptRole.Assistant, PromptRole.Tool], toolCall.Messages.Select(m => m.Role));
        Assert.Equal("get_weather", toolCall.Messages[1].ToolCalls[0].Name);
        Assert.Equal("18C and sunny", toolCall.Messages[2].ToolResult!.Value.GetString());
        Assert.Equal("get_weather", Assert.Single(toolCall.Tools!).Name);
        Assert.False(conversations[6].Options.ToolsInUserMessage);
        Assert.False(conversations[7].Options.AddGenerationPrompt);
        Assert.Null(conversations[0].Tools);
    }

    [Fact]
    public void A_single_object_and_openai_details_are_accepted()
    {
        const string json = """
            {"messages": [
               {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
               {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                 "function": {"name": "f", "arguments": "{\"x\": 1.50}"}}]},
               {"role": "ipython", "content": {"ok": true}},
               {"role": "assistant", "content": "done", "tool_calls": []}],
             "vars": {"date_string": "01 Jan 2025"}}
            """;

        var conversation = Assert.Single(ConversationJson.ParseConversations(json));

        Assert.Equal("a\nb", conversation.Messages[0].Text);
        Assert.Equal("{\"x\": 1.50}", conversation.Messages[1].ToolCalls[0].Arguments.GetRawText());
        Assert.Equal(JsonValueKind.Object, conversation.Messages[2].ToolResult!.Value.ValueKind);
        Assert.Equal("done", conversation.Messages[3].Text);
        Assert.Equal("01 Jan 2025", conversation.Options.DateString);
    }

    [Fact]
    public void A_plain_messages_array_is_one_conversation()
    {
        var defaults = ChatFormatOptions.Default with { DateString = "02 Feb 2025" };
        var conversation = Assert.Single(ConversationJson.ParseConversations(
            "[{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"u\"}]", defaults));
        Assert.Equal(["s", "u"], conversation.Messages.Select(m => m.Text));
        Assert.Null(conversation.Tools);
        Assert.Equal("02 Feb 2025", conversation.Options.DateString);
        var error = Assert.Throws<FormatException>(() => ConversationJson.ParseConversations("[{\"role\": \"user\"}]"));
        Assert.Contains("$[0].content: missing", error.Message);                    // messages are checked as in a conversation
    }

    [Theory]
    [InlineData("[{\"messages\": [{\"role\": \"developer\", \"content\": \"x\"}]}]", "[0].messages[0]: role 'developer'")]
    [InlineData("[{\"messages\": [{\"content\": \"x\"}]}]", "[0].messages[0]: a message needs a string 'role'")]
    [InlineData("[{\"messages\": [{\"role\": \"user\"}]}]", "[0].messages[0].content: missing")]
    [InlineData("[{\"messages\": [{\"role\": \"user\", \"content\": 5}]}]", "[0].messages[0].content: expected a string")]
    [InlineData("[{\"messages\": [{\"role\": \"tool\"}]}]", "a tool message needs 'content'")]
    [InlineData("[{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"arguments\": {}}}]}]}]", "tool_calls[0]: a tool call needs 'function.name'")]
    [InlineData("[{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": \"{bad\"}}]}]}]", "function.arguments: the string is not valid JSON")]
    [InlineData("[{\"messages\": {}}]", "[0].messages: expected a JSON array")]
    [InlineData("[{\"tools\": []}]", "needs a 'messages' array")]
    [InlineData("[{\"messages\": [], \"tools\": [1]}]", "[0].tools[0]: expected a JSON object")]
    [InlineData("[{\"messages\": [], \"vars\": {\"builtin_tools\": [\"brave_search\"]}}]", "[0].vars.builtin_tools: unsupported template variable")]
    [InlineData("[{\"messages\": [], \"vars\": {\"add_generation_prompt\": \"yes\"}}]", "expected true or false")]
    [InlineData("[3]", "[0]: expected a JSON object, found number")]
    [InlineData("[{\"messages\": [}", "invalid JSON")]
    public void Malformed_conversations_say_where(string json, string message)
    {
        var error = Assert.Throws<FormatException>(() => ConversationJson.ParseConversations(json));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Messages_and_tools_can_be_parsed_alone()
    {
        using var messages = JsonDocument.Parse("[{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"u\"}]");
        using var tools = JsonDocument.Parse("[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]");

        Assert.Equal([PromptRole.System, PromptRole.User], ConversationJson.ParseMessages(messages.RootElement).Select(m => m.Role));
        Assert.Equal("f", Assert.Single(ConversationJson.ParseTools(tools.RootElement)).Name);
    }
}
