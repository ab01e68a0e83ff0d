using TorchSharp;

namespace Eagle.AI.Engine.Checkpoints;

/// <summary>Copies a checkpoint's tensors into a module whose parameter names are the checkpoint's keys.</summary>
internal static class StateDictLoader
{
    /// <summary>
    /// Copies every parameter and persistent buffer of <paramref name="module"/> (named as
    /// <c>named_parameters()</c>/<c>named_buffers()</c> name them, i.e. Hugging Face keys) from
    /// <paramref name="source"/>, in place under <c>torch.no_grad()</c>. Each tensor is loaded converted to the target's
    /// dtype and device and disposed right after the copy, so peak extra memory is one tensor. A floating-point tensor
    /// holding NaN or infinity is refused (one <c>isfinite().all()</c> per tensor): such weights load fine and then
    /// answer garbage.
    /// </summary>
    /// <remarks>
    /// All checks run on the checkpoint's headers before any value is copied, so a failed load leaves the module as it
    /// was (unless a tensor's data itself turns out unreadable or not finite midway).
    /// </remarks>
    /// <param name="module">The module to fill.</param>
    /// <param name="source">The opened checkpoint.</param>
    /// <param name="strict">
    /// When true, a module tensor the checkpoint lacks, or a checkpoint tensor the module does not use (and that is not
    /// in <paramref name="ignore"/>), is an error. When false, such tensors are skipped. A shape mismatch is always an
    /// error.
    /// </param>
    /// <param name="rename">
    /// Maps a module key to the checkpoint key to read it from (e.g. an EAGLE head borrowing the target model's
    /// <c>model.embed_tokens.weight</c>); several module keys may map to one checkpoint key.
    /// </param>
    /// <param name="ignore">Checkpoint keys that may go unused without being reported as unexpected.</param>
    /// <param name="progress">Called after each tensor with (tensors done, total).</param>
    /// <exception cref="CheckpointException">
    /// A missing or unexpected tensor (strict), a shape mismatch, an unreadable tensor, or one with NaN or infinite
    /// values; names the file and tensor.
    /// </exception>
    public static void Load(torch.nn.Module module, ITensorSource source, bool strict = true,
        Func<string, string>? rename = null, ISet<string>? ignore = null, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(source);

        var targets = module.named_parameters().Select(p => (p.name, (torch.Tensor)p.parameter))
            .Concat(module.named_buffers(true, false).Select(b => (b.name, b.buffer)));
        var plan = new List<(string Key, string SourceKey, torch.Tensor Target)>();
        var missing = new List<(string Key, string SourceKey)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, target) in targets)
        {
            string sourceKey = rename?.Invoke(key) ?? key;
            if (!source.Tensors.TryGetValue(sourceKey, out var info))
            {
                missing.Add((key, sourceKey));
                continue;
            }
            used.Add(sourceKey);
            if (!info.Shape.SequenceEqual(target.shape))
                throw new CheckpointException(info.File, sourceKey,
                    $"shape [{string.Join(", ", info.Shape)}] in the checkpoint, but module tensor '{key}' has shape [{string.Join(", ", target.shape)}]");
            plan.Add((key, sourceKey, target));
        }

        if (strict && missing.Count > 0)
        {
            var (key, sourceKey) = missing[0];
            string needed = key == sourceKey ? "" : $" (read for module tensor '{key}')";
            string more = missing.Count == 1 ? ""
                : $"; {missing.Count - 1} more missing: {string.Join(", ", missing.Skip(1).Take(5).Select(m => m.SourceKey))}{(missing.Count > 6 ? ", ..." : "")}";
            throw new CheckpointException(source.Path, sourceKey, $"missing from the checkpoint{needed}{more}");
        }
        if (strict)
        {
            var unexpected = source.Tensors.Keys
                .Where(k => !used.Contains(k) && !(ignore?.Contains(k) ?? false))
                .Order(StringComparer.Ordinal).ToList();
            if (unexpected.Count > 0)
            {
                string more = unexpected.Count == 1 ? ""
                    : $"; {unexpected.Count - 1} more unexpected: {string.Join(", ", unexpected.Skip(1).Take(5))}{(unexpected.Count > 6 ? ", ..." : "")}";
                throw new CheckpointException(source.Tensors[unexpected[0]].File, unexpected[0],
                    $"unexpected: the module has no parameter or buffer for it{more}");
            }
        }

        using (torch.no_grad())
        {
            for (int i = 0; i < plan.Count; i++)
            {
                var (_, sourceKey, target) = plan[i];
                using (var loaded = source.Load(sourceKey, target.dtype, target.device))
                {
                    if (!AllFinite(loaded))
                        throw new CheckpointException(source.Tensors[sourceKey].File, sourceKey, "holds NaN or infinite values (corrupt or badly converted weights)");
                    target.copy_(loaded);
                }
                progress?.Invoke(i + 1, plan.Count);
            }
        }
    }

    private static bool AllFinite(torch.Tensor tensor)
    {
        if (!tensor.is_floating_point()) return true;
        using var finite = tensor.isfinite();
        using var all = finite.all();
        return all.item<bool>();
    }
}
