using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>
/// An opened checkpoint (one file or a sharded folder) whose headers have been read and validated. Created by
/// <see cref="Checkpoint.Open"/>; dispose it to release file handles and memory mappings.
/// </summary>
/// <remarks>
/// Every tensor returned by <see cref="Load"/> is an independent tensor owned by the caller: it never aliases a memory
/// mapping, so disposing the source while loaded tensors are still in use is safe. Do not modify or truncate a
/// checkpoint file while a source opened on it is alive (a mapped file that shrinks faults the process);
/// <see cref="SafetensorsWriter"/> replaces files by rename, which is safe. <see cref="Load"/> may be called from
/// several threads; <see cref="IDisposable.Dispose"/> must not race with it.
/// </remarks>
internal interface ITensorSource : IDisposable
{
    /// <summary>The file or folder the source was opened from.</summary>
    string Path { get; }

    /// <summary>Every tensor in the checkpoint, by name.</summary>
    IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <summary>
    /// Reads tensor <paramref name="name"/>, converts it to <paramref name="dtype"/> and places it on
    /// <paramref name="device"/>. The result is a new tensor the caller owns and must dispose; it does not share storage
    /// with the file mapping or with any other result. At most one tensor's worth of host memory is allocated per call
    /// (plus the page cache of a mapped file), so a whole checkpoint is never held twice.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// The tensor is not in the checkpoint, its dtype cannot be loaded, or its data cannot be read; the message names the
    /// file and the tensor.
    /// </exception>
    torch.Tensor Load(string name, torch.ScalarType dtype, torch.Device device);
}
