namespace Eagle.AI.Engine.Checkpoints;

/// <summary>What a checkpoint says about one tensor, read from its header without touching the data.</summary>
/// <param name="Name">The checkpoint key (a Hugging Face parameter name such as <c>model.embed_tokens.weight</c>).</param>
/// <param name="DType">
/// The stored element type in safetensors spelling. <c>F32</c>, <c>F16</c> and <c>BF16</c> can be loaded; other
/// spellings (<c>F64</c>, <c>I8</c>, <c>I64</c>, ...) are listed so callers can see or ignore them, but
/// <see cref="ITensorSource.Load"/> rejects them.
/// </param>
/// <param name="Shape">The tensor's sizes; empty for a scalar.</param>
/// <param name="File">The file that holds the tensor's data (a shard's path for sharded checkpoints).</param>
internal sealed record TensorInfo(string Name, string DType, long[] Shape, string File);
