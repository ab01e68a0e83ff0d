using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eagle.AI;

/// <summary>
/// An <see cref="IChatClient"/> over a local LLaMA-3 / 3.1 Instruct model, decoded by an <see cref="EagleEngine"/> with
/// EAGLE speculative decoding when a draft head is loaded (same text as plain decoding, fewer target forwards).
/// Streaming is the one implementation; <see cref="GetResponseAsync"/> coalesces it. Safe for concurrent use: requests
/// queue on the engine.
/// </summary>
/// <remarks>
/// <para>Every update carries the same <c>ResponseId</c> and <c>MessageId</c>, <see cref="ChatRole.Assistant"/>, the model id
/// and the request's start time. The last one carries the <see cref="ChatFinishReason"/> (<c>Stop</c>, <c>Length</c> or
/// <c>ToolCalls</c>) and one <see cref="UsageContent"/> whose <c>AdditionalCounts</c> hold <see cref="EagleUsageKeys"/>.</para>
/// <para>Honoured <see cref="ChatOptions"/>: <c>Temperature</c> (0 = greedy), <c>TopP</c>, <c>TopK</c>, <c>Seed</c>,
/// <c>MaxOutputTokens</c>, <c>StopSequences</c> (text held back until it cannot start one), <c>Instructions</c> (merged into
/// the system turn), <c>Tools</c> (LLaMA-3.1 JSON tool calling; answers that parse become <see cref="FunctionCallContent"/>),
/// <c>ToolMode</c> (<c>None</c> omits the tools; <c>RequireAny</c>/<c>RequireSpecific</c> add an instruction and constrain
/// decoding to one JSON call of an offered function with parameters valid for its schema), <c>ResponseFormat</c> (JSON:
/// decoding is constrained to one JSON object, or to one value valid against the schema; a schema keyword that cannot be
/// enforced throws <see cref="NotSupportedException"/> naming it), <c>AllowMultipleToolCalls</c> (false keeps the first call), <c>ModelId</c> (must be this model's) and
/// <c>AdditionalProperties</c> (<see cref="EagleChatOptionKeys"/>). Unset values come from <see cref="EagleOptions"/> and
/// the model's <c>generation_config.json</c>. Ignored (logged at debug level): <c>FrequencyPenalty</c>,
/// <c>PresencePenalty</c>, <c>Reasoning</c>. <c>ConversationId</c> is a hint only (every request
/// sends the whole history, and reuse of earlier turns' KV is automatic): it pins the conversation's retained prefix
/// against eviction, and the response carries it back. Messages: system, user, assistant (text and function calls) and tool (function results);
/// any other role is rendered as a user turn.</para>
/// </remarks>
public sealed class EagleChatClient : IChatClient
{
    private readonly EagleEngine engine;
    private readonly bool ownsEngine;
    private readonly ILogger logger;
    private readonly ChatClientMetadata metadata;

    /// <summary>A client over a shared engine; disposing the client leaves the engine running.</summary>
    /// <param name="engine">The loaded model.</param>
    /// <param name="logger">Receives tool-call and ignored-option diagnostics.</param>
    public EagleChatClient(EagleEngine engine, ILogger<EagleChatClient>? logger = null)
        : this(engine, ownsEngine: false, logger)
    {
    }

    /// <summary>Loads a model for this client alone; disposing the client disposes it.</summary>
    /// <param name="options">Where the model is and how to run it.</param>
    /// <param name="loggerFactory">Receives loading progress and diagnostics.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is invalid; the message names it.</exception>
    public EagleChatClient(EagleOptions options, ILoggerFactory? loggerFactory = null)
        : this(new EagleEngine(options, loggerFactory), ownsEngine: true, loggerFactory?.CreateLogger<EagleChatClient>())
    {
    }

    private EagleChatClient(EagleEngine engine, bool ownsEngine, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(engine);
        this.engine = engine;
        this.ownsEngine = ownsEngine;
        this.logger = logger ?? NullLogger.Instance;
        metadata = new ChatClientMetadata("eagle", new Uri(engine.ModelPath), engine.ModelId);
    }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">No messages, <see cref="ChatOptions.ModelId"/> names another model, or the prompt does not fit the context.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the exception names it.</exception>
    /// <exception cref="NotSupportedException">The JSON response schema uses a keyword constrained decoding cannot enforce.</exception>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Mapped now, not at the first MoveNext: bad options fail at the call, and later changes to them cannot leak in.
        var chat = ChatMapper.Prepare(messages, options, engine, logger);
        return StreamAsync(chat, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(PreparedChat chat, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string id = Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        var decoder = new ResponseDecoder(engine.Tokenizer, chat.StopSequences, chat.DetectToolCalls);
        var texts = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        int abandoned = 0;
        // Runs on the generation thread: decoding there lets a stop sequence end generation within the same round.
        bool OnTokens(IReadOnlyList<int> ids)
        {
            string text = decoder.Append(ids);
            if (text.Length > 0) texts.Writer.TryWrite(text);
            return !decoder.Stopped && Volatile.Read(ref abandoned) == 0;
        }
        var generation = engine.GenerateAsync(chat.Request, OnTokens, cancellationToken);
        _ = generation.ContinueWith(static (t, writer) =>
        {
            _ = t.Exception;   // observed here; the iterator rethrows it when it awaits the task
            ((ChannelWriter<string>)writer!).TryComplete();
        }, texts.Writer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        GenerationResult result;
        try
        {
            await foreach (string text in texts.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // Text already queued is not shown after cancellation: the reader alone would hand it out first.
                cancellationToken.ThrowIfCancellationRequested();
                yield return Update(id, created, [new TextContent(text)], chat.Request.ConversationId);
            }
            result = await generation.ConfigureAwait(false);
        }
        finally
        {
            // A consumer that stops reading early must not leave the engine generating for nobody.
            Volatile.Write(ref abandoned, 1);
        }

        var answer = decoder.Finish();
        var contents = new List<AIContent>();
        if (answer.Text.Length > 0) contents.Add(new TextContent(answer.Text));
        var calls = chat.SingleToolCall ? answer.ToolCalls.Take(1) : answer.ToolCalls;
        contents.AddRange(calls.Select(ChatMapper.ToFunctionCall));
        contents.Add(ChatMapper.ToUsage(result.Stats));
        if (answer.NotAToolCall is { } reason)
        {
            if (chat.RequireToolCall) Log.RequiredToolCallMissing(logger, reason);
            else if (answer.StartedLikeToolCall) Log.NotAToolCall(logger, reason);
        }
        var final = Update(id, created, contents, chat.Request.ConversationId);
        final.FinishReason = answer.ToolCalls.Count > 0 ? ChatFinishReason.ToolCalls
            : decoder.Stopped ? ChatFinishReason.Stop
            : ChatMapper.ToFinishReason(result.FinishReason);
        final.RawRepresentation = result;
        yield return final;
    }

    private ChatResponseUpdate Update(string id, DateTimeOffset created, IList<AIContent> contents, string? conversationId) => new(ChatRole.Assistant, contents)
    {
        ResponseId = id,
        MessageId = id,
        ModelId = engine.ModelId,
        CreatedAt = created,
        ConversationId = conversationId,
    };

    /// <inheritdoc/>
    /// <remarks>Answers <see cref="ChatClientMetadata"/> (provider <c>eagle</c>, the model folder's URI, the model id), the
    /// <see cref="EagleEngine"/>, its <see cref="Llama3Tokenizer"/>, and this client; null for any key.</remarks>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? metadata
            : serviceType == typeof(EagleEngine) ? engine
            : serviceType == typeof(Llama3Tokenizer) ? engine.Tokenizer
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Disposes the engine if this client loaded it; a shared engine is left to its owner.</summary>
    public void Dispose()
    {
        if (ownsEngine) engine.Dispose();
    }
}
