using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

/// <summary>
/// The native small ops against the libtorch ops they replace, on bf16 inputs of the llama3-1b widths. Switches
/// <see cref="NativeOps.Enabled"/> for the whole process, so these run alone.
/// </summary>
[Collection(NonParallel.Name)]
public class NativeOpsTests
{
    /// <summary>
    /// RMSNorm alone and after the residual add: the sum is libtorch's exactly (one rounding of an fp32 sum); the norm
    /// is within one bf16 step of libtorch's everywhere (its fp32 sum of squares may differ in the last bits, which can
    /// move a rounding) and identical almost everywhere — a lost rounding step or a wrong mean would not be.
    /// </summary>
    [NativeBf16Theory]
    [InlineData(1, 2048)]
    [InlineData(8, 2048)]
    [InlineData(3, 64)]
    [InlineData(300, 256)] // a prefill chunk, which the ops take where the kernel takes every bf16 product
    public void RmsNorm_and_the_residual_add_before_it_match_libtorch(int rows, int size)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        using var norm = new RMSNorm(size, 1e-5, ScalarType.BFloat16, CPU);
        using (no_grad()) norm.weight.copy_(rand([size], generator: gen).Plus(0.5).to(ScalarType.BFloat16));
        var x = randn([1, rows, size], generator: gen).Times(3L).to(ScalarType.BFloat16);
        var delta = randn([1, rows, size], generator: gen).to(ScalarType.BFloat16);

        var native = With(true, () => Both(norm, x, delta));
        var reference = With(false, () => Both(norm, x, delta));
        // The native route is really taken where the ops take this many rows (a prefill chunk only without bf16 instructions).
        Assert.Equal(rows <= NativeOps.MaxRows, With(true, () => NativeOps.RmsNorm(x, delta, norm.weight, 1e-5f)) is not null);

        Assert.True(native.Sum.eq(reference.Sum).all().item<bool>(), "x + delta");
        AssertWithinOneStep(native.Normed, reference.Normed, "norm(x)");
        AssertWithinOneStep(native.NormedSum, reference.NormedSum, "norm(x + delta)");
    }

    private static (Tensor Normed, Tensor NormedSum, Tensor Sum) Both(RMSNorm norm, Tensor x, Tensor delta)
    {
        var normed = norm.forward(x);
        var normedSum = norm.forward(x, delta, out var sum);
        return (normed, normedSum, sum);
    }

    /// <summary>
    /// RoPE of the query and key heads of a fused projection, in the attention's [1, heads + kvHeads, n, D] layout: the
    /// same bits as <see cref="RotaryEmbedding.Apply"/> (the same three bf16 roundings), at positions that differ per
    /// token as in a tree.
    /// </summary>
    [NativeBf16Theory]
    [InlineData(32, 8, 64, 1)]
    [InlineData(32, 8, 64, 6)]
    [InlineData(16, 1, 128, 3)]
    [InlineData(8, 2, 64, 300)]
    public void Rope_gives_libtorchs_bits_in_the_attention_layout(int heads, int kvHeads, int headDim, int n)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        using var rope = new RotaryEmbedding(headDim, 500000, null, CPU);
        var (cos, sin) = rope.Tables(tensor(Enumerable.Range(0, n).Select(i => 40L + i / 2).ToArray()), ScalarType.BFloat16);
        var projected = randn([1, n, (heads + 2L * kvHeads) * headDim], generator: gen).to(ScalarType.BFloat16);
        var native = With(true, () => NativeOps.Rope(projected, cos, sin, heads, kvHeads, headDim));
        if (n > NativeOps.MaxRows)
        {
            Assert.Null(native); // a prefill chunk where libtorch keeps its threads: its ops
            return;
        }
        Assert.NotNull(native);
        var all = projected.view(1, n, heads + 2 * kvHeads, headDim).transpose(1, 2);
        var reference = RotaryEmbedding.Apply(all.narrow(1, 0, heads + kvHeads), cos, sin);
        Assert.Equal(reference.shape, native!.shape);
        Assert.True(native.is_contiguous());
        Assert.True(native.eq(reference).all().item<bool>(), "rotated q/k differ from libtorch's");
    }

    /// <summary>silu(gate) · up over a fused gate/up product: within one bf16 step of libtorch, and mostly identical.</summary>
    [NativeBf16Theory]
    [InlineData(1, 8192)]
    [InlineData(5, 256)]
    [InlineData(300, 256)]
    public void Silu_times_up_matches_libtorch(int rows, int inter)
    {
        using var scope = NewDisposeScope();
        var gu = randn([1, rows, 2L * inter], generator: new Generator(7)).Times(4L).to(ScalarType.BFloat16);
        var native = With(true, () => NativeOps.SiluMul(gu));
        if (rows > NativeOps.MaxRows)
        {
            Assert.Null(native);
            return;
        }
        Assert.NotNull(native);
        var halves = gu.chunk(2, -1);
        AssertWithinOneStep(native!, nn.functional.silu(halves[0]) * halves[1], "silu(g)·u");
    }

    /// <summary>
    /// The ops wired into the model: a bf16 model of the <c>small</c> shape (D 32, GQA 8/2: every native op applies) over
    /// a 6-token prompt and then one more token, with the native ops and with libtorch's: the logits agree to within the
    /// one-step roundings carried through 8 layers and every row's argmax is the same.
    /// </summary>
    [NativeBf16Fact]
    public void A_bf16_model_gives_libtorchs_logits_with_the_native_ops()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var model = LlamaFactory.CreateRandom(LlamaPresets.Get("small"), seed: 4, ScalarType.BFloat16, CPU);
        var native = With(true, () => Logits(model));
        var reference = With(false, () => Logits(model));
        for (int step = 0; step < 2; step++)
        {
            var (a, e) = (native[step].to(ScalarType.Float64), reference[step].to(ScalarType.Float64));
            double worst = (a - e).abs().max().item<double>(), scale = e.abs().max().item<double>();
            Assert.True(worst <= Tolerance * scale, $"step {step}: logits differ by {worst:E3} against logits up to {scale:E3}");
            Assert.True(a.argmax(-1).eq(e.argmax(-1)).all().item<bool>(), $"step {step}: an argmax differs");
        }
    }

    // Measured: identical logits for these weights (the norm's and silu's rare one-step differences did not show); the
    // native add's residual sum replaced by its input moved them by half the largest logit, silu·up doubled flipped an
    // argmax. The bound leaves room for those rare roundings carried through 8 layers.
    private const double Tolerance = 0.01;

    // The logits of a 6-token prompt (a chunk: every row native) and of one more token (a decode step).
    private static Tensor[] Logits(LlamaForCausalLM model)
    {
        using var cache = model.NewCache(16);
        long[] prompt = [128000, 9906, 1917, 11, 358, 1097];
        using var first = model.Forward(tensor(prompt), HeldScalars.Range(0, prompt.Length, CPU), cache, null, ForwardRequest.AllLogits);
        using var next = model.Forward(tensor(new long[] { 264 }), HeldScalars.Range(prompt.Length, prompt.Length + 1, CPU), cache, null, ForwardRequest.AllLogits);
        return [first.Logits.clone(), next.Logits.clone()];
    }

    [NativeBf16Fact]
    public void Inputs_the_native_ops_do_not_take_stay_on_libtorch()
    {
        using var scope = NewDisposeScope();
        var w = ones(64, ScalarType.BFloat16);
        var x = ones(2, 64, ScalarType.BFloat16);
        With(true, () =>
        {
            Assert.NotNull(NativeOps.RmsNorm(x, null, w, 1e-5f));
            Assert.Null(NativeOps.RmsNorm(x.to(ScalarType.Float32), null, w.to(ScalarType.Float32), 1e-5f));        // fp32
            Assert.Null(NativeOps.RmsNorm(ones(64, 2, ScalarType.BFloat16).t(), null, w, 1e-5f));                   // not contiguous
            Assert.Null(NativeOps.RmsNorm(ones(2, 40, ScalarType.BFloat16), null, ones(40, ScalarType.BFloat16), 1e-5f)); // width not a multiple of 16
            Assert.Null(NativeOps.RmsNorm(x, ones(1, 64, ScalarType.BFloat16), w, 1e-5f));                          // delta of another shape
            Assert.Null(NativeOps.RmsNorm(x.clone().requires_grad_(), null, w, 1e-5f));                             // autograd
            Assert.Null(NativeOps.SiluMul(ones(1, 48, ScalarType.BFloat16)));                                       // half not a multiple of 16
            if (NativeOps.MaxRows == int.MaxValue) // the kernel takes every bf16 product here, so the ops take a prefill too
            {
                Assert.NotNull(NativeOps.RmsNorm(ones(600, 64, ScalarType.BFloat16), null, w, 1e-5f));
                Assert.NotNull(NativeOps.SiluMul(ones(600, 64, ScalarType.BFloat16)));
            }
            else
            {
                Assert.NotNull(NativeOps.RmsNorm(ones(NativeOps.MaxRows, 64, ScalarType.BFloat16), null, w, 1e-5f));
                Assert.Null(NativeOps.RmsNorm(ones(NativeOps.MaxRows + 1, 64, ScalarType.BFloat16), null, w, 1e-5f));  // a prefill chunk: libtorch's
                Assert.Null(NativeOps.SiluMul(ones(NativeOps.MaxRows + 1, 64, ScalarType.BFloat16)));
            }
            Assert.Null(NativeOps.Rope(ones(1, 2, 48 * 48, ScalarType.BFloat16), ones(2, 48, ScalarType.BFloat16), ones(2, 48, ScalarType.BFloat16), 32, 8, 48)); // D 48
            Assert.Null(NativeOps.Rope(ones(1, 2, 48 * 64, ScalarType.BFloat16), ones(1, 64, ScalarType.BFloat16), ones(1, 64, ScalarType.BFloat16), 32, 8, 64)); // tables of another length
            return 0;
        });
        With(false, () =>
        {
            Assert.Null(NativeOps.RmsNorm(x, null, w, 1e-5f));                                                     // switched off
            return 0;
        });
    }

    private static T With<T>(bool enabled, Func<T> f) => Switched.With(() => NativeOps.Enabled, v => NativeOps.Enabled = v, enabled, f);

    // Every element within one bf16 step (2⁻⁷ relative, or 2⁻¹³³ near zero) of libtorch's, and at least 99 % identical.
    private static void AssertWithinOneStep(Tensor actual, Tensor expected, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var a = actual.to(ScalarType.Float64);
        var e = expected.to(ScalarType.Float64);
        var tolerance = maximum(a.abs(), e.abs()).Times(Math.Pow(2, -7)).Plus(1e-30);
        var worst = ((a - e).abs() - tolerance).max().item<double>();
        Assert.True(worst <= 0, $"{what}: an element is more than one bf16 step from libtorch's");
        double identical = a.eq(e).to(ScalarType.Float64).mean().item<double>();
        Assert.True(identical >= 0.99, $"{what}: only {identical:P2} identical to libtorch");
    }
}
