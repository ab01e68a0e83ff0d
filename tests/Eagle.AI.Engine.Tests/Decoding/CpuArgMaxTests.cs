using Eagle.AI.Engine.Decoding;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Decoding;

/// <summary>The greedy choice searched in CPU memory answers as libtorch's argmax, and declines what it does not take.</summary>
public class CpuArgMaxTests
{
    [Fact]
    public void Rows_answer_as_libtorchs_argmax_with_ties_and_nan_and_decline_other_layouts()
    {
        using var scope = NewDisposeScope();
        var logits = randn([6, 128_256], generator: new Generator(3));
        logits[1, 500] = 100f;                                                           // a tie: the first wins
        logits[1, 90_000] = 100f;
        logits[2, 7] = float.NaN;                                                        // a NaN wins
        logits[2, 8] = float.PositiveInfinity;
        logits[3, 128_255] = 50f;                                                        // the last column
        var rows = CpuArgMax.Rows(logits)!;
        Assert.Equal(logits.argmax(-1).data<long>().ToArray(), rows.data<long>().ToArray());
        Assert.Equal(new long[] { 500, 7, 128_255 }, rows.narrow(0, 1, 3).data<long>().ToArray());
        for (int i = 0; i < 6; i++) Assert.Equal((int)rows[i].item<long>(), CpuArgMax.Row(logits[i]));

        Assert.Null(CpuArgMax.Rows(logits.to(ScalarType.Float64)));                     // another dtype
        Assert.Null(CpuArgMax.Rows(logits.t()));                                         // not contiguous
        Assert.Null(CpuArgMax.Rows(logits[0]));                                          // not [n, V]
        Assert.Null(CpuArgMax.Row(logits));                                              // not [V]
        Assert.Null(CpuArgMax.Rows(empty(2, 0)));                                        // nothing to choose from
        Assert.Null(CpuArgMax.Row(empty(4, device: META)));                              // not in CPU memory
    }
}
