using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Decoding;

/// <summary>
/// Top-k then top-p truncation of temperature-scaled logits, renormalised: Hugging Face's warpers. Top-k keeps every
/// token at least as likely as the k-th (ties at the k-th value are kept). Top-p walks the tokens from the most likely
/// down and keeps a token while the mass of the tokens before it is below p (in the warper's form: the mass at or below
/// it, in fp32, exceeds 1 − p), and always keeps the most likely token; tokens of equal value are walked in the order a
/// stable ascending sort leaves them, read from the top (the higher token id first), which pins down which of a tie
/// straddling the nucleus boundary survive.
/// </summary>
/// <remarks>
/// Two implementations of that one rule. <see cref="BySort"/> sorts whole rows (the warpers' own recipe); on the CPU a
/// sort of [60, 128,256] costs about a second. <see cref="ByPartialSelection"/> takes the top few hundred of each row and decides
/// there, which is exact whenever the kept set lies wholly inside that selection (checked per row); a row where it does not
/// is selected again four times wider, and at the vocabulary's width sorted. Which rows need the wider pass is only
/// known from the data, so the partial path suits the CPU, where that costs nothing; on an accelerator it would stall the
/// queue (see <see cref="HostReads"/>), and a device sort is fast there anyway.
/// </remarks>
internal static class Truncation
{
    /// <summary>First selection width of <see cref="ByPartialSelection"/>: the nuclei of peaked (model) distributions fit in it.</summary>
    public const int FirstSelection = 256;
    private const int Widening = 4;

    private static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar(); // static: never finalized mid-call
    private static readonly Scalar False = false.ToScalar();
    private static readonly Scalar True = true.ToScalar();
    private static readonly Scalar ZeroProbability = 0f.ToScalar();
    private static readonly Scalar One = 1L.ToScalar();

    /// <summary>fp32 [r, V] scaled logits → fp32 [r, V] truncated, renormalised probabilities (the path suited to the device).</summary>
    public static Tensor Probabilities(Tensor x, int topK, float topP) =>
        x.device.type == DeviceType.CPU ? ByPartialSelection(x, topK, topP, FirstSelection) : BySort(x, topK, topP);

    /// <summary>The rule by sorting whole rows. fp32 [r, V] → fp32 [r, V].</summary>
    public static Tensor BySort(Tensor x, int topK, float topP)
    {
        using var scope = NewDisposeScope();
        using var threshold = (1.0 - topP).ToScalar();
        if (topK > 0 && topK < x.shape[^1])
        {
            var kth = x.topk(topK, dim: -1).values.narrow(-1, topK - 1, 1);         // [r, 1]
            x = x.masked_fill(x < kth, NegativeInfinity);
        }
        if (topP < 1f)
        {
            var (sorted, order) = x.sort(dim: -1, descending: false, stable: true);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var remove = cumulative <= threshold;
            remove.narrow(-1, remove.shape[^1] - 1, 1).fill_(False);             // keep the most likely token
            x = x.masked_fill(remove.scatter(-1, order, remove), NegativeInfinity);
        }
        return x.softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The rule decided on each row's <paramref name="selection"/> largest values, widened (then sorted) for the rows
    /// whose kept set reaches past them. fp32 [r, V] → fp32 [r, V].
    /// </summary>
    public static Tensor ByPartialSelection(Tensor x, int topK, float topP, int selection)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(selection, 2);
        using var scope = NewDisposeScope();
        long vocab = x.shape[1];
        int k = topK > 0 && topK < vocab ? topK : 0;
        if (k == 0 && topP >= 1f) return x.softmax(-1).MoveToOuterDisposeScope();  // nothing to truncate
        // Without top-k, p is measured against the whole row: its softmax, which then becomes the result (rows of
        // [r, V] are tens of megabytes, and fresh ones cost page faults: nothing of that size is allocated again).
        var whole = k == 0 ? x.softmax(-1) : null;
        var result = whole ?? zeros_like(x);
        Tensor? rows = null;                                                        // rows of x still open (null: all)
        var open = x;
        var openWhole = whole;
        for (long width = Math.Max(selection, k + 1L); ; width *= Widening)
        {
            if (width >= vocab)
            {
                var sorted = BySort(open, topK, topP);
                if (rows is null) return sorted.MoveToOuterDisposeScope();
                result.index_copy_(0, rows, sorted);
                break;
            }
            var (decided, probabilities, tokens) = Select(open, openWhole, k, topP, width);
            var reopen = decided.logical_not().nonzero().squeeze(1);
            long left = reopen.shape[0];
            if (left == open.shape[0]) continue;                                    // none decided: all of them, wider
            var stillOpen = left > 0 ? openWhole?.index_select(0, reopen) : null;   // taken before the result overwrites it
            // Rows left open are written too, and rewritten, whole, by a later pass.
            if (rows is null)
            {
                if (whole is not null) result.zero_();
                result.scatter_(1, tokens, probabilities);
            }
            else
            {
                using var v = vocab.ToScalar();
                result.index_fill_(0, rows, ZeroProbability).view(-1)
                    .scatter_(0, rows.mul(v).unsqueeze(1).add(tokens, One).view(-1), probabilities.view(-1));
            }
            if (left == 0) break;
            openWhole = stillOpen;
            rows = rows is null ? reopen : rows.index_select(0, reopen);
            open = open.index_select(0, reopen);
        }
        return result.MoveToOuterDisposeScope();
    }

    // The rule on the `width` largest values of each row: whether it could be decided there, the kept tokens'
    // probabilities [r, width] (0 where dropped) and their ids [r, width]. whole: softmax of x (null with top-k).
    private static (Tensor Decided, Tensor Probabilities, Tensor Tokens) Select(Tensor x, Tensor? whole, int k, float topP, long width)
    {
        var (values, tokens) = x.topk((int)width, dim: -1);                         // largest first; ties in no set order
        var floor = values.narrow(-1, width - 1, 1);                                // [r, 1]: the smallest value selected
        Tensor keep, decided, mass;                                                 // mass: p over the top-k set, per position
        if (k > 0)
        {
            var kth = values.narrow(-1, k - 1, 1);
            keep = values >= kth;
            decided = (kth > floor).squeeze(-1);                                    // every token tied with the k-th is selected
            mass = values.masked_fill(keep.logical_not(), NegativeInfinity).softmax(-1);
        }
        else
        {
            keep = ones_like(values, ScalarType.Bool);
            decided = ones(values.shape[0], ScalarType.Bool, values.device);
            mass = whole!.gather(-1, tokens);
        }
        if (topP < 1f)
        {
            // BySort's test, position by position: drop a token when the mass at or below it (all of p but the mass
            // before it), in fp32, is at most 1 − p in fp32. Mass ties land as they do there.
            using var threshold = (1.0 - topP).ToScalar();
            var m = mass.to(ScalarType.Float64);
            var total = k > 0 ? m.sum(-1, keepdim: true) : whole!.sum(-1, keepdim: true).to(ScalarType.Float64);
            var nucleus = total.sub(m.cumsum(-1).sub_(m)).to(ScalarType.Float32).gt(threshold);
            nucleus.narrow(-1, 0, 1).fill_(True);                                  // keep the most likely token
            keep = keep.logical_and(nucleus);
            if (k == 0)                                                             // the nucleus ends where every token of a value is selected
                decided = nucleus.logical_and(values > floor).eq(nucleus).all(-1);
            // Tied tokens have equal p, so which positions stay does not depend on their order; which tokens sit there
            // does. Where a tie straddles the boundary, put the tie in the rule's order (higher ids first).
            long w = width - 1;
            var straddles = keep.narrow(-1, 0, w).logical_and(keep.narrow(-1, 1, w).logical_not())
                .logical_and_(values.narrow(-1, 0, w).eq(values.narrow(-1, 1, w))).any(-1);
            var tied = straddles.nonzero().squeeze(1);
            if (tied.shape[0] > 0)
                tokens.index_copy_(0, tied, InRuleOrder(values.index_select(0, tied), tokens.index_select(0, tied)));
        }
        var probabilities = values.masked_fill(keep.logical_not(), NegativeInfinity).softmax(-1);
        return (decided, probabilities, tokens);
    }

    // Tokens of rows sorted by value (largest first) reordered so that equal values go by id, higher first: the order
    // of a stable ascending sort, read from the top.
    private static Tensor InRuleOrder(Tensor values, Tensor tokens)
    {
        var (byId, idOrder) = tokens.sort(dim: -1, descending: true);
        var valueOrder = values.gather(-1, idOrder).sort(dim: -1, descending: true, stable: true).Indices;
        return byId.gather(-1, valueOrder);
    }
}
