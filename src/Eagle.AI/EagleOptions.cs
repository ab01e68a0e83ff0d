using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Drafting;

namespace Eagle.AI;

/// <summary>
/// Where the model is and how to run it: one <see cref="EagleEngine"/> per set of options. Bind it from configuration
/// (e.g. a section <c>"Eagle": { "ModelPath": "/models/Meta-Llama-3.1-8B-Instruct", "Device": "cuda" }</c>) or set it in
/// code. Generation defaults left null come from the model folder's <c>generation_config.json</c> when it has one,
/// else greedy decoding up to the context limit.
/// </summary>
/// <remarks>
/// <para><b>Remote mode.</b> With <see cref="Endpoint"/> set instead of <see cref="ModelPath"/>, no weights are loaded:
/// the chat client talks to an OpenAI-compatible server (vLLM, SGLang, this project's WebApi sample) serving
/// <see cref="ModelId"/>. The two are mutually exclusive. Remotely, <see cref="Endpoint"/>, <see cref="ApiKey"/>,
/// <see cref="ModelId"/> (required), <see cref="RequestTimeout"/> and the request defaults
/// <see cref="MaxOutputTokens"/>, <see cref="Temperature"/> and <see cref="TopP"/> apply. <see cref="DraftModelPath"/>
/// is an error (the server loads its own draft head). Every other option describes the local engine (device, dtype,
/// placement, batching, caches, the draft tree, speculation, warm-up) and is ignored, as is <see cref="TopK"/>, which the
/// OpenAI chat API cannot carry: the server's own settings decide them. Ignored options that differ from their defaults
/// are logged once when the client is created.</para>
/// </remarks>
public sealed class EagleOptions
{
    /// <summary>The target model's Hugging Face folder (<c>config.json</c>, weights, and a tokenizer: <c>original/tokenizer.model</c> or <c>tokenizer.json</c>). Required unless <see cref="Endpoint"/> is set; an empty value counts as unset.</summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// The base address of an OpenAI-compatible chat completions API to use instead of loading weights (remote mode),
    /// the address an OpenAI client is given, usually ending in <c>/v1</c>: e.g. <c>http://vllm:8000/v1</c>, or a load
    /// balancer in front of several servers. Must be an absolute http or https URL; mutually exclusive with
    /// <see cref="ModelPath"/>; needs <see cref="ModelId"/>. Null = the local engine.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>With <see cref="Endpoint"/>: the key sent as <c>Authorization: Bearer …</c> (vLLM's and SGLang's <c>--api-key</c>, the WebApi sample's <c>Server:ApiKeys</c>); null sends a placeholder, which servers without keys ignore.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// With <see cref="Endpoint"/>: how long one attempt may wait for the server — for a non-streamed answer the whole
    /// answer, for a stream its start and then the gap between two chunks. An attempt that fails transiently (a
    /// connection error, 408, 429, 5xx, this timeout) is retried up to 3 times by the standard .NET HTTP resilience
    /// handler, honouring <c>Retry-After</c>. Default 10 minutes; range [1 s, 1 h]. Ignored by the local engine.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(10);

    // An empty Endpoint (e.g. Eagle__Endpoint= to switch back to the local engine by configuration) counts as unset.
    internal bool IsRemote => Endpoint is not null && !string.IsNullOrWhiteSpace(Endpoint.OriginalString);

    /// <summary>An EAGLE draft head's folder (EAGLE-3 or EAGLE-1/2); null = plain decoding.</summary>
    public string? DraftModelPath { get; set; }

    /// <summary>The model id reported in responses and metadata; null = the name of <see cref="ModelPath"/>'s folder. With <see cref="Endpoint"/>: the served model's name, which every request sends (required; e.g. vLLM's <c>--served-model-name</c>, by default the model argument).</summary>
    public string? ModelId { get; set; }

    /// <summary><c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. The draft head runs here too unless <see cref="DraftDevice"/> says otherwise.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>
    /// Where the draft head runs: null or <c>auto</c> = the target's home device (it then borrows the target's embedding
    /// table in place); another device (e.g. <c>cuda:1</c> beside a target on <c>cuda:0</c>) gives the head copies of the
    /// target tables it reads, and target features and draft trees cross between the devices once per round.
    /// </summary>
    public string? DraftDevice { get; set; }

    /// <summary>
    /// Splits the target's decoder layers over devices when one GPU cannot hold them, e.g. <c>cuda:0=0-15;cuda:1=16-31</c>
    /// (every layer exactly once, in order). The first segment's device is the home device: embedding, final norm,
    /// lm_head and the draft head run there, so <see cref="Device"/> must be <c>auto</c> or that device. Null = every
    /// layer on <see cref="Device"/>.
    /// </summary>
    public string? LayerPlacement { get; set; }

    /// <summary><c>auto</c> (float16 on CUDA, float32 on CPU), <c>float32</c>, <c>bfloat16</c> or <c>float16</c>; the draft head uses the same.</summary>
    public string DType { get; set; } = "auto";

    /// <summary>Most positions (prompt + answer) one request may use; capped by the model's <c>max_position_embeddings</c>. Each request allocates its KV cache for at most this many.</summary>
    public int MaxContextTokens { get; set; } = ContextBudget.DefaultContextLimit;

    /// <summary>
    /// Most requests decoded together (continuous batching): every step is one forward for all of them, so the weights
    /// are read once per step however many requests it serves; a request joins between steps and leaves the moment it
    /// ends. Each running request holds its own KV cache. Default 8; 1 serves one request at a time. Range [1, 256].
    /// </summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>
    /// Requests that may wait beyond <see cref="MaxBatchSize"/>; one more fails at once with
    /// <see cref="EngineBusyException"/> (a server's 429) instead of waiting without bound. Default 64; range [0, 100000].
    /// </summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>
    /// Prompt tokens one prefill forward takes at most: a longer prompt is prefilled over several steps, interleaved
    /// with the other requests' decoding, so it does not stall their streams for its whole length. Default 512; range
    /// [16, 65536].
    /// </summary>
    public int PrefillChunkTokens { get; set; } = Engine.Decoding.DecodingSession.DefaultPrefillChunkTokens;

    /// <summary>
    /// Positions of finished requests' KV the engine keeps so that a request sharing a prefix with one (the next turn of
    /// a chat, an agent loop re-sending its system prompt and tools) prefills only the rest; matched by token ids,
    /// evicted least recently used; 0 turns reuse off. Default null: sized for the device at load and logged — on a CPU a
    /// quarter of the memory the weights leave (e.g. about 16,000 positions for LLaMA-3.1-8B in bf16 on 24 GB, about
    /// 170,000 for a 1B model), capped at 1,048,576; on CUDA, whose free memory TorchSharp cannot query, 16384 (2 GiB of
    /// LLaMA-3.1-8B KV in 16-bit). Range [0, 10000000]. The tokens served this way are reported as
    /// <c>UsageDetails.CachedInputTokenCount</c>.
    /// </summary>
    public int? PrefixCacheTokens { get; set; }

    /// <summary>Draft tree shape when <see cref="DraftModelPath"/> is set; null = <see cref="TreeSettings.Default"/>.</summary>
    public TreeSettings? Tree { get; set; }

    /// <summary>Whether requests use the draft head by default (when one is configured); a request may override it with <see cref="EagleChatOptionKeys.Speculative"/>.</summary>
    public bool Speculative { get; set; } = true;

    /// <summary>Default for <c>ChatOptions.MaxOutputTokens</c>; null = <c>max_new_tokens</c> from <c>generation_config.json</c>, else up to the context limit.</summary>
    public int? MaxOutputTokens { get; set; }

    /// <summary>Default for <c>ChatOptions.Temperature</c> (0 = greedy); null = <c>generation_config.json</c> (0 when it does not sample), else 0.</summary>
    public float? Temperature { get; set; }

    /// <summary>Default for <c>ChatOptions.TopP</c>; null = <c>generation_config.json</c>, else 1 (off).</summary>
    public float? TopP { get; set; }

    /// <summary>Default for <c>ChatOptions.TopK</c>; null = <c>generation_config.json</c>, else 0 (off).</summary>
    public int? TopK { get; set; }

    /// <summary>
    /// Whether traces carry the prompt and answer text (default false: logs, metrics and spans hold counts, timings and
    /// the model id, never the conversation). When true, each request span gets two events, <c>gen_ai.content.prompt</c>
    /// (attribute <c>gen_ai.prompt</c>: the prompt as the chat template rendered it) and <c>gen_ai.content.completion</c>
    /// (attribute <c>gen_ai.completion</c>: the answer's tokens as text); metrics and logs never carry text. Turn it on
    /// only where the trace backend may hold what users type.
    /// </summary>
    public bool RecordContent { get; set; }

    /// <summary>Run one tiny request right after loading, so the first real request does not pay for first-use costs; with dependency injection, also load the model when the host starts instead of at the first request.</summary>
    public bool Warmup { get; set; }
}
