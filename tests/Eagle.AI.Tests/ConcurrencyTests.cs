using Eagle.AI.Engine.Decoding;
using Microsoft.Extensions.AI;

namespace Eagle.AI.Tests;

/// <summary>Many callers on one engine: requests are batched, never share KV state, and cancellation touches only its own request.</summary>
public class ConcurrencyTests
{
    private const int Count = 32;

    /// <summary>Request i: streaming or not, greedy or seeded sampling, speculative or not, a few tokens.</summary>
    private sealed record Request(int Index)
    {
        public bool Streaming => Index % 2 == 0;

        public ChatMessage[] Messages => [new(ChatRole.User, $"Question number {Index}?")];

        public ChatOptions Options(int? maxOutputTokens = null) => new()
        {
            Temperature = Index % 3 == 0 ? 0f : 1f,
            Seed = 1000 + Index,
            MaxOutputTokens = maxOutputTokens ?? 4 + Index % 4,
            AdditionalProperties = new() { [EagleChatOptionKeys.Speculative] = Index % 4 < 2 },
        };
    }

    private sealed record Outcome(string Text, long? OutputTokens, ChatFinishReason? Finish);

    private static readonly IReadOnlyList<Request> Requests = [.. Enumerable.Range(0, Count).Select(i => new Request(i))];

    // The one-by-one results, computed once for both tests.
    private static readonly Lazy<Task<Outcome[]>> Sequential = new(async () =>
    {
        using var client = new EagleChatClient(TestModel.Engine);
        var outcomes = new Outcome[Count];
        foreach (var r in Requests) outcomes[r.Index] = await Run(client, r);
        return outcomes;
    });

    private static async Task<Outcome> Run(IChatClient client, Request r)
    {
        var response = r.Streaming
            ? await client.GetStreamingResponseAsync(r.Messages, r.Options()).ToChatResponseAsync()
            : await client.GetResponseAsync(r.Messages, r.Options());
        return new Outcome(response.Text, response.Usage?.OutputTokenCount, response.FinishReason);
    }

    [Fact]
    public async Task Parallel_requests_give_exactly_the_outputs_of_the_same_requests_one_by_one()
    {
        var expected = await Sequential.Value;
        using var client = new EagleChatClient(TestModel.Engine);

        var parallel = await Task.WhenAll(Requests.Select(r => Task.Run(() => Run(client, r))));

        Assert.Equal(expected, parallel);
        Assert.True(expected.Select(o => o.Text).Distinct().Count() > Count / 2, "the requests should differ from each other");
    }

    [Fact]
    public async Task Cancelling_half_mid_stream_leaves_the_others_exact_and_the_engine_serving()
    {
        var expected = await Sequential.Value;
        using var client = new EagleChatClient(TestModel.Engine);

        var tasks = Requests.Select(r => Task.Run(async () => r.Index % 2 == 1 ? await CancelAfterFirstUpdate(client, r) : await Run(client, r))).ToList();
        var outcomes = await Task.WhenAll(tasks);

        foreach (var r in Requests)
        {
            if (r.Index % 2 == 1) Assert.Null(outcomes[r.Index]);
            else Assert.Equal(expected[r.Index], outcomes[r.Index]);
        }
        Assert.Equal(expected[3], await Run(client, Requests[3]));
    }

    [Fact]
    public async Task Concurrent_requests_all_get_their_first_tokens_before_the_first_one_finishes()
    {
        var engine = TestModel.Engine;
        // 64 tokens each: a window of dozens of steps for the other three to be queued while the first decodes
        var options = new GenerationOptions { MaxNewTokens = 64, StopTokenIds = [] };
        EngineRequest Request(int i) => new([engine.Tokenizer.BosId, .. engine.Tokenizer.Encode($"Tell me about number {i}.")], options, false, null);
        // The order of token deliveries across requests, not wall time: every first delivery comes before any last one.
        int deliveries = 0;
        var first = new int[4];
        var last = new int[4];
        var tasks = Enumerable.Range(0, 4).Select(i => engine.GenerateAsync(Request(i), ids =>
        {
            int at = ++deliveries;                                             // the generation thread calls these one at a time
            if (first[i] == 0) first[i] = at;
            last[i] = at;
            return true;
        }, CancellationToken.None)).ToList();
        var results = await Task.WhenAll(tasks);
        Assert.True(first.Max() < last.Min(), $"first deliveries {string.Join(",", first)}, last {string.Join(",", last)}: decoded together, not one after another");
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(64, results[i].OutputIds.Count);
            Assert.Equal((await engine.GenerateAsync(Request(i), null, CancellationToken.None)).OutputIds, results[i].OutputIds);
        }
    }

    /// <summary>Streams a long answer and cancels once text arrives; the stream must end with a cancellation.</summary>
    private static async Task<Outcome?> CancelAfterFirstUpdate(IChatClient client, Request r)
    {
        using var cts = new CancellationTokenSource();
        int updates = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            // 200 tokens: had cancellation not stopped it within a round, this request alone would hold the queue for seconds.
            await foreach (var update in client.GetStreamingResponseAsync(r.Messages, r.Options(maxOutputTokens: 200), cts.Token))
            {
                Assert.Null(update.FinishReason);
                updates++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(1, updates);
        return null;
    }
}
