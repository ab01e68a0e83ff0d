using Eagle.AI.Engine.Drafting;
using Eagle.AI.Engine.Text;
using static TorchSharp.torch;

namespace Eagle.AI;

/// <summary>What the chat client needs to know about a loaded model besides its tokenizer.</summary>
/// <param name="ModelId">Reported in responses and metadata.</param>
/// <param name="ModelPath">The model folder (absolute).</param>
/// <param name="ChatFormat">Which LLaMA-3 chat template the model was trained on.</param>
/// <param name="Defaults">Settings for what a request leaves unset.</param>
/// <param name="MaxContextTokens">Most positions one request may use.</param>
/// <param name="HasDraftModel">Whether an EAGLE head is loaded.</param>
/// <param name="SpeculativeByDefault">Whether requests draft unless they say otherwise.</param>
/// <param name="Tree">The draft tree shape; null without a draft model.</param>
/// <param name="Device">Where the weights live.</param>
/// <param name="DType">The weights' dtype.</param>
internal sealed record EngineInfo(
    string ModelId,
    string ModelPath,
    ChatFormatVersion ChatFormat,
    GenerationDefaults Defaults,
    int MaxContextTokens,
    bool HasDraftModel,
    bool SpeculativeByDefault,
    TreeSettings? Tree,
    Device Device,
    ScalarType DType)
{
    /// <summary>Refuses a prompt that leaves no room for one new token in <see cref="MaxContextTokens"/>, naming where that limit comes from.</summary>
    /// <exception cref="ContextLengthExceededException">The prompt does not fit; the exception names <paramref name="paramName"/>.</exception>
    public void ThrowIfPromptTooLong(int promptTokens, string paramName)
    {
        if (promptTokens >= MaxContextTokens) throw new ContextLengthExceededException(promptTokens, MaxContextTokens, paramName);
    }
}
