using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Runtime;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace Eagle.AI.Tests;

/// <summary>The engine's queue and thread: cancellation, early stops, failures, context limits and disposal.</summary>
public class EagleEngineTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly GenerationOptions Budget = new() { MaxNewTokens = 100_000, StopTokenIds = [] };

    /// <summary>A source that emits one token per round until cancelled, after waiting for <paramref name="gate"/> (if any).</summary>
    private sealed class EndlessSource(ManualResetEventSlim? gate = null)
    {
        public int Started;
        public TaskCompletionSource Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public GenerationResult Generate(EngineRequest request, Action<IReadOnlyList<int>> onTokens, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Started);
            try
            {
                gate?.Wait(Patience, CancellationToken.None);
                for (int round = 0; ; round++)
                {
                    if (round > 0) cancellationToken.ThrowIfCancellationRequested();
                    onTokens(round % 2 == 0 ? [9906] : [1917, 0]);   // "Hello", " world!"
                    Thread.Sleep(1);
                }
            }
            finally
            {
                Exited.TrySetResult();
            }
        }
    }

    private static EagleEngine Engine(EndlessSource source) => new(TestModel.Tokenizer, source.Generate, Scripted.Info());

    [Fact]
    public async Task A_running_request_cancelled_stops_within_a_round_and_the_next_one_runs()
    {
        var source = new EndlessSource();
        using var engine = Engine(source);
        using var cts = new CancellationTokenSource();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = engine.GenerateAsync([1, 2, 3], Budget, _ => { first.TrySetResult(); return true; }, cts.Token);
        await first.Task.WaitAsync(Patience);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task.WaitAsync(Patience));
        Assert.True(task.IsCanceled);
        await source.Exited.Task.WaitAsync(Patience);

        var next = await engine.GenerateAsync([1], new GenerationOptions { MaxNewTokens = 3 }, ids => false).WaitAsync(Patience);
        Assert.Equal(FinishReason.Stop, next.FinishReason);
    }

    [Fact]
    public async Task A_queued_request_cancelled_completes_at_once_and_never_runs()
    {
        using var gate = new ManualResetEventSlim();
        var source = new EndlessSource(gate);
        using var engine = Engine(source);
        var running = engine.GenerateAsync([1], Budget, _ => false);
        using var cts = new CancellationTokenSource();
        var queued = engine.GenerateAsync([1], Budget, _ => false, cts.Token);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(Patience));   // while the first still blocks
        gate.Set();
        await running.WaitAsync(Patience);
        var after = await engine.GenerateAsync([1], Budget, _ => false).WaitAsync(Patience);
        Assert.NotNull(after);
        Assert.Equal(2, source.Started);   // the cancelled request never reached the source
    }

    [Fact]
    public async Task A_consumer_stop_returns_the_tokens_so_far_with_their_counts()
    {
        using var engine = Engine(new EndlessSource());
        int calls = 0;
        var result = await engine.GenerateAsync([1, 2], Budget, _ => ++calls < 3).WaitAsync(Patience);

        Assert.Equal(FinishReason.Stop, result.FinishReason);
        Assert.Equal([9906, 1917, 0, 9906], result.OutputIds);
        Assert.Equal(2, result.Stats.PromptTokens);
        Assert.Equal(4, result.Stats.GeneratedTokens);
        Assert.Equal(3, result.Stats.TargetForwards);
        Assert.Equal(2, result.Stats.Rounds);
        Assert.Equal(1, result.Stats.AcceptedDraftTokens);
    }

    [Fact]
    public async Task A_failing_request_fails_alone()
    {
        int requests = 0;
        using var engine = new EagleEngine(TestModel.Tokenizer, (request, onTokens, ct) =>
        {
            if (Interlocked.Increment(ref requests) == 1) throw new InvalidDataException("bad weights");
            return Scripted.Source(_ => Scripted.Answer("fine"))(request, onTokens, ct);
        }, Scripted.Info());
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => engine.GenerateAsync([1], Budget));
        Assert.Equal("bad weights", e.Message);
        var ok = await engine.GenerateAsync([1], new GenerationOptions { MaxNewTokens = 100 }).WaitAsync(Patience);
        Assert.Equal(Scripted.Answer("fine"), ok.OutputIds);
        Assert.Equal(FinishReason.Stop, ok.FinishReason);
    }

    [Fact]
    public async Task Leaving_a_stream_early_stops_its_generation()
    {
        var source = new EndlessSource();
        using var engine = Engine(source);
        using var client = new EagleChatClient(engine);
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")]))
        {
            Assert.NotEmpty(update.Text);
            break;
        }
        await source.Exited.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task Disposal_ends_the_running_request_fails_queued_ones_and_refuses_new_ones()
    {
        var source = new EndlessSource();
        var engine = Engine(source);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = engine.GenerateAsync([1], Budget, _ => { first.TrySetResult(); return true; });
        var queued = engine.GenerateAsync([1], Budget);
        await first.Task.WaitAsync(Patience);

        engine.Dispose();

        Assert.True(source.Exited.Task.IsCompleted, "Dispose waits for the generation thread");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => running.WaitAsync(Patience));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => queued.WaitAsync(Patience));
        Assert.Throws<ObjectDisposedException>(() => { _ = engine.GenerateAsync([1], Budget); });
        engine.Dispose();
    }

    [Fact]
    public async Task Disposing_a_loaded_engine_with_a_request_in_flight_ends_it_and_frees_the_model()
    {
        var engine = new EagleEngine(TestModel.Options());
        using var client = new EagleChatClient(engine);
        var stream = client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Tell me a long story.")], new ChatOptions { MaxOutputTokens = 5000 });

        var e = await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var update in stream)
                engine.Dispose();   // from the consumer's thread, while the generation thread is mid-request
        });
        Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]));
    }

    [Fact]
    public async Task Requests_leave_no_tensor_behind_on_the_generation_thread()
    {
        using var model = LoadedModel.Load(TestModel.Options(), NullLogger.Instance);
        var liveAtStart = new List<long>();
        // Counted when each request starts, i.e. after everything the previous one left was freed.
        TokenSource counting = (request, onTokens, ct) =>
        {
            liveAtStart.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            return model.Generate(request, onTokens, ct);
        };
        using var engine = new EagleEngine(model.Tokenizer, counting, model.Info);
        int[] prompt = [128000, 9906, 1917];
        GenerationOptions Options(int max) => new() { MaxNewTokens = max, StopTokenIds = [] };
        EngineRequest Request(bool speculative, int max = 6, TreeSettings? tree = null) => new(prompt, Options(max), speculative, tree);

        await engine.GenerateAsync(Request(true), null, default);    // allocates the drafter's lasting draft cache
        await engine.GenerateAsync(Request(true, max: 12), null, default);
        await engine.GenerateAsync(Request(false), null, default);
        await engine.GenerateAsync(Request(true, tree: TestModel.SmallTree with { TotalTokens = 12 }), null, default);
        using (var cts = new CancellationTokenSource())
        {
            var cancelled = engine.GenerateAsync(Request(true, max: 5000), _ => { cts.Cancel(); return true; }, cts.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        }
        await engine.GenerateAsync(Request(true), _ => false, default);
        await engine.GenerateAsync(Request(true), null, default);

        Assert.Equal(7, liveAtStart.Count);
        Assert.All(liveAtStart.Skip(2), count => Assert.Equal(liveAtStart[1], count));
    }

    [Fact]
    public async Task The_context_limit_refuses_long_prompts_and_cuts_long_answers_with_Length()
    {
        var options = TestModel.Options(draft: false);
        options.MaxContextTokens = 48;
        using var client = new EagleChatClient(options);
        var engine = client.GetService<EagleEngine>()!;
        Assert.Equal(48, engine.MaxContextTokens);

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 1000 });
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.InRange(response.Usage!.TotalTokenCount!.Value, 40, 49);   // the last token is generated, never fed back

        var unbounded = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]);
        Assert.Equal(ChatFinishReason.Length, unbounded.FinishReason);
        Assert.InRange(unbounded.Usage!.TotalTokenCount!.Value, 40, 49);

        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, string.Concat(Enumerable.Repeat("word ", 40)))]));
        Assert.Contains("context limit is 48", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => { _ = engine.GenerateAsync(Enumerable.Range(1, 48).ToArray(), Budget); });
    }

    [Fact]
    public void Invalid_options_fail_before_loading_and_name_the_option()
    {
        var options = TestModel.Options();
        options.Device = "gpu0";
        options.DType = "int8";
        var e = Assert.Throws<OptionsValidationException>(() => new EagleEngine(options));
        Assert.Contains("EagleOptions.Device 'gpu0'", e.Message, StringComparison.Ordinal);
        Assert.Contains("EagleOptions.DType 'int8'", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new EagleEngine(null!));
    }

    [Fact]
    public void CUDA_asked_for_without_CUDA_is_the_runtime_error_that_says_how_to_get_it()
    {
        TorchRuntime.EnsureInitialized();
        if (TorchSharp.torch.cuda.is_available()) return;   // nothing to refuse on a CUDA machine
        var options = TestModel.Options();
        options.Device = "cuda:0";
        var e = Assert.Throws<TorchRuntimeException>(() => new EagleEngine(options));
        Assert.Contains("EagleTorchBackend=cuda", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_tree_setting_the_engine_adapts_the_tree_from_costs_measured_at_load()
    {
        var o = TestModel.Options();
        o.Tree = null;
        using var engine = new EagleEngine(o);
        Assert.True(engine.Info.Tree!.Adaptive);
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        int[] prompt = [128000, 9906, 1917];
        var adaptive = await engine.GenerateAsync(prompt, options).WaitAsync(Patience);
        var plain = await TestModel.Engine.GenerateAsync(prompt, options).WaitAsync(Patience);
        Assert.Equal(plain.OutputIds, adaptive.OutputIds);                                  // greedy: the same tokens
        Assert.InRange(adaptive.Stats.DraftedRounds, 1, adaptive.Stats.Rounds);
        Assert.Equal(adaptive.Stats.DraftedRounds, adaptive.Stats.TreeSizes.Values.Sum());
    }
}
