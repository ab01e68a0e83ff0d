using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Eagle.Samples.Tests;

/// <summary>
/// A deterministic <see cref="IChatClient"/> for the HTTP-shape tests, answering from the request: after a tool result
/// it says <c>Tool said: {result}</c>; with a function offered (and tools not turned off) it calls the first one with
/// <c>{"city":"Paris"}</c>; with a token budget it writes that many words and stops for length; otherwise it echoes the
/// last user text word by word; <see cref="FailAtOnce"/> and <see cref="FailMidway"/> make it throw before or after its
/// first update, <see cref="OutOfRange"/> refuses an option the way an engine does, <see cref="Slow"/> waits before each
/// word and <see cref="Endless"/> writes until it is cancelled. It records the last request it saw.
/// </summary>
internal sealed class ScriptedChatClient : IChatClient
{
    public const string ModelId = "scripted-model";
    public const string EchoPrefix = "You said: ";
    public const string ToolResultPrefix = "Tool said: ";
    public const int PromptTokens = 10;
    public const string FailAtOnce = "fail at once";
    public const string FailMidway = "fail midway";
    public const string Busy = "be busy";
    public const string OutOfRange = "out of range";
    public const string Slow = "answer slowly";
    public const string Endless = "never stop";
    public static readonly TimeSpan SlowDelay = TimeSpan.FromMilliseconds(700);

    public IReadOnlyList<ChatMessage>? LastMessages { get; private set; }

    public ChatOptions? LastOptions { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        LastMessages = messages.ToList();
        LastOptions = options;
        return Answer(LastMessages, options, cancellationToken);
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Answer(IReadOnlyList<ChatMessage> messages, ChatOptions? options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        var created = DateTimeOffset.UtcNow;
        ChatResponseUpdate Update(params AIContent[] contents) =>
            new(ChatRole.Assistant, contents) { ResponseId = "r1", MessageId = "r1", ModelId = ModelId, CreatedAt = created };

        if (messages[^1].Contents.OfType<FunctionResultContent>().FirstOrDefault() is { } result)
        {
            var answer = Update(new TextContent(ToolResultPrefix + result.Result), Usage(3));
            answer.FinishReason = ChatFinishReason.Stop;
            yield return answer;
            yield break;
        }
        if (options?.ToolMode is not NoneChatToolMode && options?.Tools?.OfType<AIFunctionDeclaration>().FirstOrDefault() is { } function)
        {
            var arguments = new Dictionary<string, object?> { ["city"] = JsonSerializer.SerializeToElement("Paris") };
            var call = Update(new FunctionCallContent("call_1", function.Name, arguments), Usage(5));
            call.FinishReason = ChatFinishReason.ToolCalls;
            yield return call;
            yield break;
        }

        string question = messages.Last(m => m.Role == ChatRole.User).Text;
        if (question == FailAtOnce) throw new InvalidOperationException("The scripted model failed at once.");
        if (question == Busy) throw new Eagle.AI.EngineBusyException(8, 64, TimeSpan.FromSeconds(2.4));
        if (question == OutOfRange) throw new ArgumentOutOfRangeException(nameof(ChatOptions.TopP), 0f, "top_p must be above 0 for this model");
        if (question == Slow)
        {
            foreach (string word in new[] { "Slow", " but", " sure" })
            {
                await Task.Delay(SlowDelay, cancellationToken);
                yield return Update(new TextContent(word));
            }
            yield break;
        }
        if (question == Endless)
        {
            // Bounded, so a test that fails to cancel it still ends.
            for (int i = 0; i < 300; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
                yield return Update(new TextContent(" more"));
            }
            yield break;
        }
        if (question == FailMidway)
        {
            yield return Update(new TextContent("Half an answer"));
            throw new InvalidOperationException("The scripted model failed midway.");
        }

        string[] words = options?.MaxOutputTokens is { } budget
            ? Enumerable.Repeat("word ", budget).ToArray()
            : (EchoPrefix + question).Split(' ').Select((w, i) => i == 0 ? w : " " + w).ToArray();
        foreach (string word in words)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return Update(new TextContent(word));
        }
        var last = Update(Usage(words.Length));
        last.FinishReason = options?.MaxOutputTokens is null ? ChatFinishReason.Stop : ChatFinishReason.Length;
        yield return last;
    }

    private static UsageContent Usage(int outputTokens) =>
        new(new UsageDetails { InputTokenCount = PromptTokens, OutputTokenCount = outputTokens, TotalTokenCount = PromptTokens + outputTokens });

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("scripted", null, ModelId)
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }
}
