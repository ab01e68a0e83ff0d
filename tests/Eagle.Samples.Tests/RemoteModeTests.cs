using System.Net;
using Eagle.AI;
using Eagle.AI.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Eagle.Samples.Tests;

/// <summary>
/// <c>AddEagleChatClient</c> in remote mode (<see cref="EagleOptions.Endpoint"/>) against the WebApi sample on loopback,
/// the way an application would use vLLM or SGLang: answers, streams, tools under <c>UseFunctionInvocation</c>, usage,
/// request options, and errors as <see cref="ChatServerException"/>s naming the endpoint and the status.
/// </summary>
[Collection(RemoteTinyChatCollection.Name)]
public sealed class RemoteModeTests(RemoteTinyChat server)
{
    // Guards against a hang only: these answers take well under a second.
    private static CancellationTokenSource Guard() => new(TimeSpan.FromMinutes(2));

    [Fact]
    public async Task GetResponse_answers_with_usage_and_no_EAGLE_counters()
    {
        await using var provider = RemoteTinyChat.Container(server.Endpoint);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        var response = await client.GetResponseAsync(TinyChatScript.GreetingQuestion, cancellationToken: guard.Token);

        Assert.Equal(TinyChatScript.GreetingAnswer, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(TinyChatServer.ModelId, response.ModelId);
        Assert.True(response.Usage is { InputTokenCount: > 5, OutputTokenCount: > 3 }, $"usage {response.Usage?.InputTokenCount} + {response.Usage?.OutputTokenCount}");
        Assert.Equal(response.Usage!.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        // The server's speculation counters do not cross the OpenAI API (documented in the README).
        Assert.False(response.Usage.AdditionalCounts?.ContainsKey(EagleUsageKeys.MeanAcceptanceLengthX1000) ?? false);
        Assert.Null(client.GetService<EagleEngine>());
    }

    [Fact]
    public async Task GetStreamingResponse_streams_the_answer_and_ends_with_usage()
    {
        await using var provider = RemoteTinyChat.Container(server.Endpoint);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(TinyChatScript.CapitalQuestion, cancellationToken: guard.Token)) updates.Add(update);

        Assert.True(updates.Count(u => u.Text.Length > 0) > 1, "the answer came in more than one piece");
        Assert.Equal(TinyChatScript.CapitalAnswer, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, updates.Select(u => u.FinishReason).Last(r => r is not null));
        Assert.True(Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details.OutputTokenCount > 3);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_tool_call_runs_under_UseFunctionInvocation_on_the_registered_builder(bool streaming)
    {
        var cities = new List<string>();
        var getWeather = AIFunctionFactory.Create((string city) =>
        {
            cities.Add(city);
            return TinyChatScript.WeatherResult;
        }, TinyChatScript.WeatherFunctionName, TinyChatScript.WeatherFunctionDescription);
        await using var provider = RemoteTinyChat.Container(server.Endpoint, pipeline: b => b.UseFunctionInvocation());
        var client = provider.GetRequiredService<IChatClient>();
        var options = new ChatOptions { Tools = [getWeather] };
        using var guard = Guard();

        var response = streaming
            ? await client.GetStreamingResponseAsync(TinyChatScript.WeatherQuestion, options, guard.Token).ToChatResponseAsync(guard.Token)
            : await client.GetResponseAsync(TinyChatScript.WeatherQuestion, options, guard.Token);

        Assert.Equal([TinyChatScript.WeatherCity], cities);
        Assert.Contains(response.Messages.SelectMany(m => m.Contents), c => c is FunctionCallContent { Name: TinyChatScript.WeatherFunctionName });
        Assert.Equal(TinyChatScript.WeatherAnswer, response.Messages[^1].Text);
    }

    public enum Weather { Sunny, Rainy }

    public sealed record Forecast([property: System.ComponentModel.DataAnnotations.MaxLength(8)] string City, Weather Sky, int Degrees);

    // The response format crosses the API as json_schema and the server enforces it: the tiny model, which was never
    // trained to write JSON, answers a document that deserializes.
    [Fact]
    public async Task GetResponseAsync_of_a_record_is_enforced_by_the_server()
    {
        await using var provider = RemoteTinyChat.Container(server.Endpoint);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        var response = await client.GetResponseAsync<Forecast>(TinyChatScript.CapitalQuestion,
            new ChatOptions { Temperature = 0, MaxOutputTokens = 200 }, cancellationToken: guard.Token);

        Assert.True(response.TryGetResult(out var forecast), response.Text);
        Assert.NotNull(forecast!.City);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Request_options_cross_the_API_stop_sequences_and_the_configured_default_budget()
    {
        // EagleOptions.MaxOutputTokens is the request default remotely too; a request's own value wins.
        await using var provider = RemoteTinyChat.Container(server.Endpoint, o => o.MaxOutputTokens = 2);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        var cut = await client.GetResponseAsync(TinyChatScript.CapitalQuestion, cancellationToken: guard.Token);
        Assert.Equal(ChatFinishReason.Length, cut.FinishReason);
        Assert.Equal(2, cut.Usage?.OutputTokenCount);

        var stopped = await client.GetResponseAsync(TinyChatScript.CapitalQuestion,
            new ChatOptions { MaxOutputTokens = 64, StopSequences = ["France"], Seed = 7, Temperature = 0 }, guard.Token);
        Assert.Equal("The capital of ", stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task A_missing_API_key_is_a_ChatServerException_naming_the_endpoint_and_401()
    {
        await using var provider = RemoteTinyChat.Container(server.Endpoint, o => o.ApiKey = null);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        var e = await Assert.ThrowsAsync<ChatServerException>(() => client.GetResponseAsync(TinyChatScript.GreetingQuestion, cancellationToken: guard.Token));

        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
        Assert.Equal(server.Endpoint, e.Endpoint);
        Assert.StartsWith($"The chat server at {server.Endpoint} answered 401 (Unauthorized): ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("Check EagleOptions.ApiKey.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_request_on_a_stream_is_a_ChatServerException_with_the_servers_message()
    {
        await using var provider = RemoteTinyChat.Container(server.Endpoint);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        // The sample caps the answer budget (Server:MaxTokens, 4096 by default): more is a 400 naming the field.
        var e = await Assert.ThrowsAsync<ChatServerException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(TinyChatScript.GreetingQuestion, new ChatOptions { MaxOutputTokens = 100_000 }, guard.Token))
            {
            }
        });

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.StartsWith($"The chat server at {server.Endpoint} answered 400 (Bad Request): ", e.Message, StringComparison.Ordinal);
        // The OpenAI client sends the budget as max_completion_tokens; the server's message names it and the cap.
        Assert.EndsWith("Invalid 'max_completion_tokens' 100000: this server allows at most 4096 (Server:MaxTokens).", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_goes_away_mid_stream_ends_the_stream_with_a_ChatServerException()
    {
        using var proxy = new BreakingProxy(server.BaseAddress);
        var endpoint = new Uri(proxy.Address, "v1");
        await using var provider = RemoteTinyChat.Container(endpoint);
        var client = provider.GetRequiredService<IChatClient>();
        using var guard = Guard();

        int updates = 0;
        var e = await Assert.ThrowsAsync<ChatServerException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(TinyChatScript.CapitalQuestion, cancellationToken: guard.Token)) updates++;
        });

        Assert.Equal(1, proxy.Broken);   // one request, cut once: a broken stream is never retried into a second answer
        Assert.Null(e.StatusCode);
        Assert.Equal(HttpRequestError.ResponseEnded, e.HttpRequestError);
        Assert.StartsWith($"The connection to the chat server at {endpoint} broke off before the answer was complete", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(e.InnerException);
    }

    [Fact]
    public async Task A_server_that_stalls_mid_stream_ends_the_stream_after_the_request_timeout()
    {
        using var guard = Guard();
        // The timeout also bounds the wait for the stream's start: a first request that pays for JIT compilation on a
        // busy machine should not be what runs into it.
        await using (var direct = RemoteTinyChat.Container(server.Endpoint))
            await direct.GetRequiredService<IChatClient>().GetResponseAsync(TinyChatScript.CapitalQuestion, cancellationToken: guard.Token);
        using var proxy = new BreakingProxy(server.BaseAddress, stall: true);
        var endpoint = new Uri(proxy.Address, "v1");
        // RequestTimeout bounds each read of a stream: a silent server ends it instead of hanging the caller.
        await using var provider = RemoteTinyChat.Container(endpoint, o => o.RequestTimeout = TimeSpan.FromSeconds(3));
        var client = provider.GetRequiredService<IChatClient>();

        var e = await Assert.ThrowsAsync<ChatServerException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(TinyChatScript.CapitalQuestion, cancellationToken: guard.Token))
            {
            }
        });

        Assert.True(proxy.Broken >= 1, e.ToString());   // the stream had started when the server fell silent
        Assert.False(guard.IsCancellationRequested);
        Assert.Null(e.StatusCode);
        Assert.Equal($"The chat server at {endpoint} did not answer within EagleOptions.RequestTimeout (00:00:03).", e.Message);
    }
}
