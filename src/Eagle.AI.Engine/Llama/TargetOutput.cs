using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// What one target forward returns. <see cref="Logits"/> are fp32 [r, V] for the r requested rows; <see cref="Captured"/>
/// is the concatenation (low → high layer) of the residual-stream inputs of the requested layers, [n, k·H] (EAGLE-3
/// features); <see cref="FinalHidden"/> is the final-norm output [n, H] (EAGLE-1/2 feature). The caller disposes it.
/// </summary>
internal sealed record TargetOutput(Tensor Logits, Tensor? Captured, Tensor? FinalHidden) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Logits.Dispose();
        Captured?.Dispose();
        FinalHidden?.Dispose();
    }
}

/// <summary>What a target forward should return besides the KV update.</summary>
/// <param name="LogitRows">int64 [r] rows of the new tokens to project to logits; null = all rows.</param>
/// <param name="CaptureLayers">layer indices whose residual-stream inputs to return, ascending; null = none.</param>
/// <param name="FinalHidden">whether to return the final-norm hidden states.</param>
internal sealed record ForwardRequest(Tensor? LogitRows = null, int[]? CaptureLayers = null, bool FinalHidden = false)
{
    /// <summary>Logits of every new token, nothing else.</summary>
    public static readonly ForwardRequest AllLogits = new();
}

/// <summary>One sequence's part of a batched <see cref="LlamaForCausalLM.Forward(IReadOnlyList{ForwardItem})"/>.</summary>
/// <param name="Ids">int64 [n] new tokens.</param>
/// <param name="Positions">int64 [n] their positions.</param>
/// <param name="Cache">The sequence's own KV cache; the forward writes the n entries and advances it.</param>
/// <param name="Mask">bool [n, past + n] (true = attend); null = causal.</param>
/// <param name="Request">Which logits rows (relative to this sequence) and features it needs.</param>
internal sealed record ForwardItem(Tensor Ids, Tensor Positions, KVCache Cache, Tensor? Mask, ForwardRequest Request);

