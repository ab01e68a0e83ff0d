using Eagle.AI.Engine.Llama;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Drafting;

/// <summary>
/// One request's draft tree while it grows, level by level. It is stepped from outside so that the nodes every
/// request feeds at a level go through one head forward together (<see cref="Grow"/>): the head's weights and its
/// lm_head are read once per level for the whole batch, not once per request.
/// </summary>
internal abstract class TreeExpansion : IDisposable
{
    /// <summary>
    /// Takes the head's outputs [r, H] and draft log-probabilities [r, Vd] of the rows fed last (at first the last
    /// committed position's, r = 1), chooses their children, and returns the nodes to feed next, or null when the
    /// tree is complete.
    /// </summary>
    public abstract LevelFeed? Next(Tensor outputs, Tensor logProbs);

    /// <summary>The finished tree, on the head's device, in the caller's dispose scope.</summary>
    public abstract DraftTree Finish();

    /// <inheritdoc/>
    public virtual void Dispose()
    {
    }

    /// <summary>
    /// Grows every request's tree from h [B, H] (row j: request j's draft output at its last committed position), one
    /// head forward per level over the nodes all unfinished requests feed there, each against its own draft cache
    /// (whose scratch K/V the caller truncates away). Returns the trees in request order.
    /// </summary>
    public static DraftTree[] Grow(EagleHead head, IReadOnlyList<KVCache> caches, IReadOnlyList<TreeExpansion> trees, Tensor h)
    {
        int count = trees.Count;
        var outputs = new Tensor[count];
        var logProbs = new Tensor[count];
        var all = head.LogProbs(h);                                                      // [B, Vd]: one lm_head pass
        for (int j = 0; j < count; j++)
        {
            outputs[j] = h.narrow(0, j, 1);
            logProbs[j] = all.narrow(0, j, 1);
        }
        var growing = Enumerable.Range(0, count).ToList();
        while (true)
        {
            var fed = new List<(int Request, LevelFeed Feed)>();
            foreach (int j in growing)
                if (trees[j].Next(outputs[j], logProbs[j]) is { } feed) fed.Add((j, feed));
            if (fed.Count == 0) break;
            growing = [.. fed.Select(f => f.Request)];

            var lengths = fed.Select(f => (int)f.Feed.Ids.shape[0]).ToArray();
            var batch = new PackedSequences(lengths, [.. fed.Select(f => caches[f.Request])], [.. fed.Select(f => (Tensor?)f.Feed.Mask)]);
            var output = fed.Count == 1
                ? head.Forward(fed[0].Feed.Hidden, fed[0].Feed.Ids, fed[0].Feed.Positions, batch)
                : head.Forward(cat(fed.Select(f => f.Feed.Hidden).ToArray()), cat(fed.Select(f => f.Feed.Ids).ToArray()),
                    cat(fed.Select(f => f.Feed.Positions).ToArray()), batch);            // [Σf, H]
            all = head.LogProbs(output);                                                 // [Σf, Vd]
            for (int i = 0; i < fed.Count; i++)
            {
                int j = fed[i].Request;
                caches[j].Advance(lengths[i]);
                outputs[j] = output.narrow(0, batch.Offsets[i], lengths[i]);
                logProbs[j] = all.narrow(0, batch.Offsets[i], lengths[i]);
            }
        }
        return [.. trees.Select(t => t.Finish())];
    }
}

/// <summary>
/// The nodes a tree feeds through the head at one level: <see cref="Hidden"/> [f, H] (their parents' outputs),
/// <see cref="Ids"/> [f] (their tokens), <see cref="Positions"/> [f] and <see cref="Mask"/> bool [f, cache.Length + f]
/// (the committed prefix and their own ancestors).
/// </summary>
internal sealed record LevelFeed(Tensor Hidden, Tensor Ids, Tensor Positions, Tensor Mask);
