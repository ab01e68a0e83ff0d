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

    /// <summary>A decoder whose sessions emit one token per round until they end, after waiting for <paramref name="gate"/> (if any) in each step.</summary>
    private sealed class EndlessSource(ManualResetEventSlim? gate = null) : IRequestDecoder
    {
        public int Started;
        public TaskCompletionSource Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens)
        {
            Interlocked.Increment(ref Started);
            return new Session(request, onTokens, this);
        }

        public void Step(IReadOnlyList<IRequestSession> sessions)
        {
            gate?.Wait(Patience, CancellationToken.None);
            foreach (var s in sessions) ((Session)s).Round();
            Thread.Sleep(1);
        }

        private sealed class Session(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens, EndlessSource source) : IRequestSession
        {
            private readonly List<int> output = [];
            private int rounds;

            public bool Done { get; private set; }

            public void Round()
            {
                int[] ids = rounds++ % 2 == 0 ? [9906] : [1917, 0];                 // "Hello", " world!"
                output.AddRange(ids);
                if (!onTokens(ids)) Done = true;
            }

            public GenerationResult Result => new(output.ToArray(), FinishReason.Stop,
                new GenerationStats { PromptTokens = request.PromptIds.Count, GeneratedTokens = output.Count, TargetForwards = rounds, Rounds = rounds - 1 });

            public void Dispose() => source.Exited.TrySetResult();
        }
    }

    private static EagleEngine Engine(EndlessSource source, int maxBatchSize = 8) => new(TestModel.Tokenizer, source, Scripted.Info(), null, maxBatchSize);

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
        using var engine = Engine(source, maxBatchSize: 1);                        // the second request waits in the queue
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
    }

    [Fact]
    public async Task A_failing_request_fails_alone()
    {
        using var engine = new EagleEngine(TestModel.Tokenizer, new FailingFirst(new Scripted.Decoder(_ => Scripted.Answer("fine"))), Scripted.Info());
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => engine.GenerateAsync([1], Budget));
        Assert.Equal("bad weights", e.Message);
        var ok = await engine.GenerateAsync([1], new GenerationOptions { MaxNewTokens = 100 }).WaitAsync(Patience);
        Assert.Equal(Scripted.Answer("fine"), ok.OutputIds);
        Assert.Equal(FinishReason.Stop, ok.FinishReason);
    }

    [Fact]
    public async Task A_request_that_fails_alone_in_a_shared_step_ends_with_its_error_and_the_others_go_on()
    {
        using var gate = new ManualResetEventSlim(false);
        using var engine = new EagleEngine(TestModel.Tokenizer,
            new FailingInStep(new Scripted.Decoder(_ => Scripted.Answer("fine, thanks"), roundSize: 1, gate: gate)), Scripted.Info());
        var options = new GenerationOptions { MaxNewTokens = 100 };
        var tasks = new[] { engine.GenerateAsync([1], options), engine.GenerateAsync([2], options), engine.GenerateAsync([3], options) };
        gate.Set();
        var e = await Assert.ThrowsAsync<DeviceOutOfMemoryException>(() => tasks[1].WaitAsync(Patience));
        Assert.Equal("forward", e.Allocation);
        foreach (var t in new[] { tasks[0], tasks[2] })
            Assert.Equal(Scripted.Answer("fine, thanks"), (await t.WaitAsync(Patience)).OutputIds);
    }

    // Ends the session of prompt [2] with a failure of its own after its first step, as a decoding session whose part of
    // a batched forward does not fit even alone does.
    private sealed class FailingInStep(IRequestDecoder inner) : IRequestDecoder
    {
        public IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens) =>
            new Session(inner.Start(request, onTokens), request.PromptIds[0] == 2);

        public void Step(IReadOnlyList<IRequestSession> sessions)
        {
            inner.Step([.. sessions.Select(s => ((Session)s).Inner)]);
            foreach (var s in sessions.Cast<Session>().Where(s => s.Fails))
                s.Failure = new DeviceOutOfMemoryException(16, 1024, "cpu", "forward", new InvalidOperationException("out of memory"));
        }

        private sealed class Session(IRequestSession inner, bool fails) : IRequestSession
        {
            public IRequestSession Inner => inner;
            public bool Fails => fails;
            public Exception? Failure { get; set; }
            public bool Done => Failure is not null || inner.Done;
            public GenerationResult Result => inner.Result;
            public void Dispose() => inner.Dispose();
        }
    }

    // Fails the first request's start (as a request whose caches do not fit would), then serves.
    private sealed class FailingFirst(IRequestDecoder inner) : IRequestDecoder
    {
        private int requests;

        public IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens) =>
            Interlocked.Increment(ref requests) == 1 ? throw new InvalidDataException("bad weights") : inner.Start(request, onTokens);

        public void Step(IReadOnlyList<IRequestSession> sessions) => inner.Step(sessions);
    }

    [Fact]
    public async Task Requests_beyond_the_batch_and_the_queue_are_refused_at_once_with_a_retry_delay()
    {
        using var gate = new ManualResetEventSlim();
        var source = new EndlessSource(gate);
        using var engine = new EagleEngine(TestModel.Tokenizer, source, Scripted.Info(), null, maxBatchSize: 2, maxQueuedRequests: 1);
        var running = Enumerable.Range(0, 3).Select(_ => engine.GenerateAsync([1], Budget, _ => false)).ToList();  // 2 run, 1 waits
        var e = Assert.Throws<EngineBusyException>(() => { _ = engine.GenerateAsync([1], Budget); });
        Assert.Contains("MaxBatchSize", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxQueuedRequests", e.Message, StringComparison.Ordinal);
        Assert.InRange(e.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        gate.Set();
        await Task.WhenAll(running).WaitAsync(Patience);
        Assert.NotNull(await engine.GenerateAsync([1], Budget, _ => false).WaitAsync(Patience));   // room again
    }

    [Fact]
    public async Task Concurrent_requests_are_stepped_together_and_each_gets_its_own_answer()
    {
        // The first step waits until all six are queued: scripted steps take microseconds, so otherwise the first request
        // could finish before the others arrive.
        using var gate = new ManualResetEventSlim();
        var decoder = new Scripted.Decoder(r => Scripted.Answer($"answer {r.PromptIds.Count} " + string.Concat(Enumerable.Repeat("la ", 10))), roundSize: 1, gate);
        using var engine = new EagleEngine(TestModel.Tokenizer, decoder, Scripted.Info(), null, maxBatchSize: 4);
        var tasks = Enumerable.Range(1, 6).Select(n => engine.GenerateAsync(Enumerable.Repeat(1, n).ToArray(), Budget)).ToList();
        gate.Set();
        var results = await Task.WhenAll(tasks).WaitAsync(Patience);
        for (int n = 1; n <= 6; n++)
            Assert.Equal(Scripted.Answer($"answer {n} " + string.Concat(Enumerable.Repeat("la ", 10))), results[n - 1].OutputIds);
        Assert.Equal(4, decoder.LargestBatch);                                       // batched, up to MaxBatchSize and never beyond
    }

    [Fact]
    public async Task A_consumer_callback_that_throws_fails_its_request_alone()
    {
        using var engine = Scripted.Engine(_ => Scripted.Answer("one two three four five six seven"), roundSize: 1);
        var bad = engine.GenerateAsync([1], Budget, _ => throw new FormatException("consumer bug"));
        var good = engine.GenerateAsync([1], Budget);
        await Assert.ThrowsAsync<FormatException>(() => bad.WaitAsync(Patience));
        Assert.Equal(Scripted.Answer("one two three four five six seven"), (await good.WaitAsync(Patience)).OutputIds);
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
        var options = TestModel.Options();
        options.PrefixCacheTokens = 0;                                             // retained prefixes would be "left behind" on purpose
        using var model = LoadedModel.Load(options, NullLogger.Instance);
        var liveAtStart = new List<long>();
        // Counted when each request starts, i.e. after everything the previous one left was freed.
        using var engine = new EagleEngine(model.Tokenizer, new Counting(model, liveAtStart), model.Info);
        int[] prompt = [128000, 9906, 1917];
        GenerationOptions Options(int max) => new() { MaxNewTokens = max, StopTokenIds = [] };
        EngineRequest Request(bool speculative, int max = 6, TreeSettings? tree = null) => new(prompt, Options(max), speculative, tree);

        await engine.GenerateAsync(Request(true), null, default);    // first use: anything lazily created once
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
    public void Retained_prefixes_give_way_when_a_new_request_does_not_fit()
    {
        using var model = LoadedModel.Load(TestModel.Options(draft: false), NullLogger.Instance);
        var options = new GenerationOptions { MaxNewTokens = 4, StopTokenIds = [] };
        int[] prompt = [128000, .. model.Tokenizer.Encode("An opening long enough to be worth keeping for later.")];
        using (var first = model.Start(new EngineRequest(prompt, options, false, null), _ => true))
            while (!first.Done) model.Step([first]);
        Assert.Equal(1, model.Prefixes.Count);

        // The next request's KV cache fails once, as a full device would: the retained sequence is freed and it runs.
        bool failed = false;
        using (DeviceMemory.Hook(what =>
        {
            if (what != DeviceMemory.KVCache || failed) return;
            failed = true;
            throw DeviceMemory.SimulatedOutOfMemory(what);
        }))
        {
            using var next = model.Start(new EngineRequest([.. prompt, 9906], options, false, null), _ => true);
            while (!next.Done) model.Step([next]);
            Assert.True(failed);
            Assert.Equal(0, next.Result.Stats.CachedPromptTokens);                          // started from nothing
        }
        Assert.Equal(1, model.Prefixes.Count);                                       // the new request's sequence is kept
    }

    private sealed class Counting(LoadedModel model, List<long> liveAtStart) : IRequestDecoder
    {
        public IRequestSession Start(EngineRequest request, Func<IReadOnlyList<int>, bool> onTokens)
        {
            // Idle KV slots are kept for the next requests on purpose (KVCachePool); everything else must be gone.
            liveAtStart.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount - model.Slots.IdleTensors);
            return model.Start(request, onTokens);
        }

        public void Step(IReadOnlyList<IRequestSession> sessions) => model.Step(sessions);
    }

    [Fact]
    public async Task The_context_limit_refuses_long_prompts_and_cuts_long_answers_with_Length()
    {
        var options = TestModel.Options(draft: false);
        options.MaxContextTokens = 48;
        using var client = new EagleChatClient(options);
        var engine = client.GetService<EagleEngine>()!;
        Assert.Equal(48, engine.MaxContextTokens);
        Assert.Equal(("cpu", "float32"), (engine.Device, engine.DType));                  // spelled as the options spell them

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 1000 });
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.InRange(response.Usage!.TotalTokenCount!.Value, 40, 49);   // the last token is generated, never fed back

        var unbounded = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]);
        Assert.Equal(ChatFinishReason.Length, unbounded.FinishReason);
        Assert.InRange(unbounded.Usage!.TotalTokenCount!.Value, 40, 49);

        var e = await Assert.ThrowsAsync<ContextLengthExceededException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, string.Concat(Enumerable.Repeat("word ", 40)))]));
        Assert.Contains("context limit is 48", e.Message, StringComparison.Ordinal);
        var direct = Assert.Throws<ContextLengthExceededException>(() => { _ = engine.GenerateAsync(Enumerable.Range(1, 48).ToArray(), Budget); });
        Assert.Equal((48, 48, "promptIds"), (direct.PromptTokens, direct.ContextTokens, direct.ParamName));
    }

    [Fact]
    public void A_bad_request_is_refused_at_the_call_naming_what_is_wrong_and_never_reaches_the_decoder()
    {
        var source = new EndlessSource();
        using var engine = Engine(source);

        var topP = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = engine.GenerateAsync([1, 2], Budget with { Sampling = new SamplingOptions { TopP = 0f } }); });
        var budget = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = engine.GenerateAsync([1, 2], Budget with { MaxNewTokens = 0 }); });
        var empty = Assert.Throws<ArgumentException>(() => { _ = engine.GenerateAsync([], Budget); });

        Assert.Equal(("TopP", "MaxNewTokens", "promptIds"), (topP.ParamName, budget.ParamName, empty.ParamName));
        Assert.Equal(0, source.Started);
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
