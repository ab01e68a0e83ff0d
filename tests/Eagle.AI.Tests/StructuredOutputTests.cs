using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;
using static Eagle.AI.Engine.Demo.TinyChatScript;

namespace Eagle.AI.Tests;

/// <summary>
/// Structured output and required tool calls on the trained tiny chat model. It knows only its script, so what it
/// writes under a constraint is gibberish — but valid gibberish: every answer must deserialize or be an allowed call.
/// The types and tools bound every string and array and close every object (as C# lets one say: MaxLength, unmapped
/// members disallowed), so every document ends within the budget whatever the model prefers.
/// </summary>
public class StructuredOutputTests(TinyChatEngineFixture fixture) : IClassFixture<TinyChatEngineFixture>
{
    public enum Mood { Happy, Sad }

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record Pet([property: MaxLength(6)] string Name, Mood Mood);

    [JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
    public sealed record Person([property: MaxLength(8)] string Name, double Score, Mood Mood, [property: MaxLength(2)] List<Pet> Pets,
        Pet? Favourite, [property: MaxLength(5)] string? Nickname, DateTime When, Guid Id);

    private static readonly AIJsonSchemaCreateOptions ClosedObjects = new() { TransformOptions = new() { DisallowAdditionalProperties = true } };
    private static readonly AIFunction Weather = AIFunctionFactory.Create(([MaxLength(12)] string city) => WeatherResult,
        new AIFunctionFactoryOptions { Name = WeatherFunctionName, Description = WeatherFunctionDescription, JsonSchemaCreateOptions = ClosedObjects });
    private static readonly AIFunction Time = AIFunctionFactory.Create(([MaxLength(5)] string zone, int offset) => "noon",
        new AIFunctionFactoryOptions { Name = "get_time", Description = "The time in a zone.", JsonSchemaCreateOptions = ClosedObjects });

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public async Task GetResponseAsync_of_a_record_deserializes_nested_objects_lists_enums_nullables_and_formats(float temperature)
    {
        using var client = new EagleChatClient(fixture.Engine);
        var response = await client.GetResponseAsync<Person>(CapitalQuestion, new ChatOptions { Temperature = temperature, Seed = 3, MaxOutputTokens = 400 });
        Assert.True(response.TryGetResult(out var person), response.Text);
        Assert.NotNull(person!.Name);
        Assert.NotNull(person.Pets);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Json_response_format_starts_an_object_and_greedy_speculation_changes_nothing()
    {
        using var client = new EagleChatClient(fixture.Engine);
        var speculative = await client.GetResponseAsync(GreetingQuestion, new ChatOptions { ResponseFormat = ChatResponseFormat.Json, MaxOutputTokens = 40, Temperature = 0 });
        var plain = await client.GetResponseAsync(GreetingQuestion, new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.Json, MaxOutputTokens = 40, Temperature = 0,
            AdditionalProperties = new() { [EagleChatOptionKeys.Speculative] = false },
        });
        Assert.Equal(plain.Text, speculative.Text);
        Assert.StartsWith("{", speculative.Text, StringComparison.Ordinal);
        if (speculative.FinishReason == ChatFinishReason.Stop)
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(speculative.Text).RootElement.ValueKind);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("get_time")]
    public async Task A_required_tool_call_always_parses_into_an_allowed_call(string? required)
    {
        using var client = new EagleChatClient(fixture.Engine);
        foreach (string question in new[] { WeatherQuestion, CapitalQuestion, GreetingQuestion })
        {
            var options = new ChatOptions
            {
                Tools = [Weather, Time], Temperature = 0, MaxOutputTokens = 200,
                ToolMode = required is null ? ChatToolMode.RequireAny : ChatToolMode.RequireSpecific(required),
            };
            var response = await client.GetResponseAsync(question, options);
            var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
            string[] allowed = required is null ? [WeatherFunctionName, "get_time"] : [required];
            Assert.Contains(call.Name, allowed);
            Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
            if (call.Name == "get_time") Assert.True(((JsonElement)call.Arguments!["offset"]!).TryGetInt64(out _));
            else Assert.Equal(JsonValueKind.String, ((JsonElement)call.Arguments!["city"]!).ValueKind);
            if (question == WeatherQuestion && required is null) Assert.Equal(WeatherCity, ((JsonElement)call.Arguments!["city"]!).GetString());
        }
    }

    [Fact]
    public void An_unsupported_schema_keyword_is_refused_at_the_call()
    {
        using var client = new EagleChatClient(fixture.Engine);
        var schema = JsonDocument.Parse("""{"type":"string","pattern":"^(ab)+$"}""").RootElement;   // a group: outside the subset
        var e = Assert.ThrowsAny<NotSupportedException>(() => client.GetStreamingResponseAsync(
            [new ChatMessage(ChatRole.User, GreetingQuestion)], new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) }));
        Assert.Contains("'pattern'", e.Message);
    }
}
