using Eagle.AI.Engine.Runtime;
using System.Diagnostics;
using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>Plain decoding, one target forward per token: the baseline speculative decoding must equal and beat.</summary>
public sealed class VanillaGenerator(LlamaForCausalLM target, int contextLimit = ContextBudget.DefaultContextLimit)
{
    /// <summary>
    /// Prefills <paramref name="prompt"/> (ids used as given: no BOS added) and generates until a stop id, the token
    /// budget or the context limit. <paramref name="onTokens"/> sees each new token as soon as it is chosen.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled between two steps; the tokens seen so far were emitted.</exception>
    public GenerationResult Generate(IReadOnlyList<int> prompt, GenerationOptions options,
        Action<IReadOnlyList<int>>? onTokens = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var sampler = new Sampler(options.Sampling);
        var stop = new HashSet<int>(options.StopTokenIds ?? target.Config.EosTokenIds);
        int capacity = ContextBudget.Capacity(prompt.Count, options.MaxNewTokens, 0, contextLimit, int.MaxValue);
        var output = new List<int>();
        var clock = Stopwatch.StartNew();
        double prefillMs = 0;
        int forwards = 0;
        FinishReason reason = FinishReason.Length;

        using var noGrad = no_grad();
        using var cache = target.NewCache(capacity);
        var device = target.Device;
        int[] next = prompt.ToArray();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int token;
            using (var step = NewDisposeScope())
            {
                int n = next.Length, pos = cache.Length;
                var ids = tensor(next.Select(t => (long)t).ToArray(), device: device);
                var positions = HeldScalars.Range(pos, pos + n, device);
                using var last = tensor(new long[] { n - 1 }, device: device);
                using var outp = target.Forward(ids, positions, cache, null, new ForwardRequest(LogitRows: last));
                forwards++;
                token = sampler.Next(outp.Logits[0]);
            }
            if (forwards == 1) prefillMs = clock.Elapsed.TotalMilliseconds;
            output.Add(token);
            onTokens?.Invoke([token]);
            if (stop.Contains(token)) { reason = FinishReason.Stop; break; }
            if (output.Count >= options.MaxNewTokens || cache.Length >= capacity) break;
            next = [token];
        }

        double total = clock.Elapsed.TotalMilliseconds;
        var stats = new GenerationStats
        {
            PromptTokens = prompt.Count,
            GeneratedTokens = output.Count,
            PrefillMs = prefillMs,
            DecodeMs = total - prefillMs,
            TargetForwards = forwards,
            Rounds = forwards - 1,
        };
        return new GenerationResult(output, reason, stats);
    }
}
