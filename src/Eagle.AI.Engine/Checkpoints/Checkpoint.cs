namespace Eagle.AI.Engine.Checkpoints;

/// <summary>Opens Hugging Face checkpoints in any of their on-disk layouts.</summary>
internal static class Checkpoint
{
    /// <summary>The files a checkpoint folder is searched for, in order of preference.</summary>
    private static readonly string[] Layouts =
    [
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
    ];

    /// <summary>
    /// Opens a checkpoint and validates its headers (no tensor data is read yet). <paramref name="folderOrFile"/> is
    /// either a folder holding <c>model.safetensors</c>, <c>model.safetensors.index.json</c> (sharded),
    /// <c>pytorch_model.bin</c> or <c>pytorch_model.bin.index.json</c> (first found wins, in that order), or a path to a
    /// <c>.safetensors</c> file, a torch.save <c>.bin</c>/<c>.pt</c>/<c>.pth</c> file, or an <c>*.index.json</c>.
    /// Any other file is recognised by content (a zip archive is read as torch.save, anything else as safetensors).
    /// </summary>
    /// <returns>A source the caller must dispose.</returns>
    /// <exception cref="CheckpointException">
    /// Nothing is there (the message lists the paths looked for), or a file is missing, truncated or malformed.
    /// </exception>
    public static ITensorSource Open(string folderOrFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrFile);
        if (Directory.Exists(folderOrFile))
        {
            var candidates = Layouts.Select(f => Path.Combine(folderOrFile, f)).ToArray();
            string? found = candidates.FirstOrDefault(File.Exists);
            if (found is null)
                throw new CheckpointException(folderOrFile, null,
                    $"no checkpoint found; looked for {string.Join(", ", candidates)}");
            return OpenFile(found);
        }
        if (!File.Exists(folderOrFile))
            throw new CheckpointException(folderOrFile, null, "checkpoint file or folder not found");
        return OpenFile(folderOrFile);
    }

    private static ITensorSource OpenFile(string path)
    {
        string name = Path.GetFileName(path);
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return new ShardedCheckpoint(path);
        if (name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return new SafetensorsFile(path);
        if (name.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".pth", StringComparison.OrdinalIgnoreCase))
            return new PytorchBinFile(path);
        return IsZip(path) ? new PytorchBinFile(path) : new SafetensorsFile(path);
    }

    private static bool IsZip(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic is [0x50, 0x4B, 0x03, 0x04];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, null, $"cannot read: {e.Message}", e);
        }
    }
}
