using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Runtime;

/// <summary>
/// Runs the tensor ops the engine depends on, on a device in a dtype, and compares each with the same op on the CPU in
/// fp32 over the same inputs (rounded to the dtype first, so only the op's own error is measured). This is what catches
/// a libtorch build whose kernels or ABI disagree with TorchSharp's bindings (a silently wrong result, not a crash).
/// </summary>
internal static class SelfTestOps
{
    /// <summary>One row per op: linear, matmul, SDPA (bool and additive masks), softmax, topk, argmax, multinomial, index_select, gather, scatter.</summary>
    public static IReadOnlyList<SelfTestResult> Run(Device device, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(device);
        using var noGrad = no_grad();
        var ops = new Ops(device, dtype);
        return
        [
            SelfTestResult.Guard("op linear", ops.Linear),
            SelfTestResult.Guard("op matmul", ops.Matmul),
            SelfTestResult.Guard("op sdpa, bool mask", () => ops.Attention(additive: false)),
            SelfTestResult.Guard("op sdpa, additive mask", () => ops.Attention(additive: true)),
            SelfTestResult.Guard("op softmax", () => ops.Softmax(statsInFloat32: false)),
            SelfTestResult.Guard("op softmax → fp32", () => ops.Softmax(statsInFloat32: true)),
            SelfTestResult.Guard("op topk", ops.TopK),
            SelfTestResult.Guard("op argmax", ops.Argmax),
            SelfTestResult.Guard("op multinomial", ops.Multinomial),
            SelfTestResult.Guard("op index_select", ops.IndexSelect),
            SelfTestResult.Guard("op gather", ops.Gather),
            SelfTestResult.Guard("op scatter", ops.Scatter),
        ];
    }

    private sealed class Ops(Device device, ScalarType dtype)
    {
        private readonly double tolerance = SelfTestTolerance.Op(dtype);
        private readonly Generator generator = new(20240531);

        private Tensor Randn(params long[] shape) => randn(shape, generator: generator);

        // The inputs as the device will see them, back in fp32 on the CPU for the reference.
        private Tensor Rounded(Tensor x) => x.to(dtype).to(ScalarType.Float32);

        private Tensor OnDevice(Tensor x) => x.to(dtype, device);

        private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

        public SelfTestResult Linear()
        {
            using var scope = NewDisposeScope();
            var x = Rounded(Randn(7, 256));
            var w = Rounded(Randn(384, 256).Over(16));
            var expected = nn.functional.linear(x, w);
            var actual = nn.functional.linear(OnDevice(x), OnDevice(w));
            return SelfTestResult.Within("op linear", SelfTestTolerance.RelativeError(actual, expected), tolerance);
        }

        public SelfTestResult Matmul()
        {
            using var scope = NewDisposeScope();
            var a = Rounded(Randn(2, 5, 64));
            var b = Rounded(Randn(2, 64, 48).Over(8));
            var actual = OnDevice(a).matmul(OnDevice(b));
            return SelfTestResult.Within("op matmul", SelfTestTolerance.RelativeError(actual, a.matmul(b)), tolerance);
        }

        // A tree-verification-shaped mask: 6 queries after 4 committed positions, each seeing a random subset of the
        // keys but always its own position, so no row is empty. The reference is the textbook formula, not SDPA.
        public SelfTestResult Attention(bool additive)
        {
            using var scope = NewDisposeScope();
            string name = additive ? "op sdpa, additive mask" : "op sdpa, bool mask";
            var q = Rounded(Randn(1, 4, 6, 16));
            var k = Rounded(Randn(1, 4, 10, 16));
            var v = Rounded(Randn(1, 4, 10, 16));
            var visible = rand([6, 10], generator: generator).data<float>().Select(u => u < 0.6f).ToArray();
            for (int i = 0; i < 6; i++) visible[i * 10 + 4 + i] = true;
            var mask = tensor(visible).reshape(6, 10);
            var scores = q.matmul(k.transpose(-2, -1)).Over(Math.Sqrt(16));
            var expected = scores.Fill(mask.logical_not(), double.NegativeInfinity).softmax(-1).matmul(v);

            var m = additive
                ? zeros([6, 10], dtype, device).Fill(mask.to(device).logical_not(), double.NegativeInfinity)
                : mask.to(device);
            var actual = nn.functional.scaled_dot_product_attention(OnDevice(q), OnDevice(k), OnDevice(v), m);
            return SelfTestResult.Within(name, SelfTestTolerance.RelativeError(actual, expected), tolerance);
        }

        public SelfTestResult Softmax(bool statsInFloat32)
        {
            using var scope = NewDisposeScope();
            var x = Rounded(Randn(4, 1000).Times(4.0));
            var expected = x.softmax(-1);
            var actual = statsInFloat32 ? OnDevice(x).softmax(-1, ScalarType.Float32) : OnDevice(x).softmax(-1);
            return SelfTestResult.Within(statsInFloat32 ? "op softmax → fp32" : "op softmax",
                SelfTestTolerance.RelativeError(actual, expected), tolerance);
        }

        // Distinct small integers are exact in every dtype (bf16 holds integers up to 256), so indices must agree exactly.
        private Tensor Permutations() => stack(Enumerable.Range(0, 3).Select(_ => randperm(256, generator: generator)).ToArray()).to(ScalarType.Float32);

        public SelfTestResult TopK()
        {
            using var scope = NewDisposeScope();
            var x = Permutations();
            var (ev, ei) = x.topk(10);
            var (av, ai) = OnDevice(x).topk(10);
            bool same = Same(ai.cpu(), ei) && Same(av.to(ScalarType.Float32, CPU), ev);
            return SelfTestResult.Exact("op topk", same, same ? "top-10 of 3 rows identical" : "top-10 differs");
        }

        public SelfTestResult Argmax()
        {
            using var scope = NewDisposeScope();
            var x = Permutations();
            bool same = Same(OnDevice(x).argmax(-1).cpu(), x.argmax(-1));
            return SelfTestResult.Exact("op argmax", same, same ? "3 rows identical" : "argmax differs");
        }

        // Frequencies of 20000 draws against the probabilities: each frequency has a standard deviation below 0.0036,
        // so 0.02 is over 5σ; a zero-probability category must never be drawn.
        public SelfTestResult Multinomial()
        {
            using var scope = NewDisposeScope();
            const int draws = 20000;
            var p = tensor(new float[] { 0.3f, 0f, 0.2f, 0.1f, 0f, 0.25f, 0.15f, 0f });
            var samples = OnDevice(p).multinomial(draws, replacement: true).cpu();
            var counts = samples.bincount(null, 8).to(ScalarType.Float64).Over(draws);
            double worst = (counts - p.to(ScalarType.Float64)).abs().max().item<double>();
            long impossible = counts.masked_select(p.eq(HeldScalars.Zero)).gt(HeldScalars.Zero).sum().item<long>();
            bool ok = worst <= 0.02 && impossible == 0;
            return new SelfTestResult("op multinomial", ok ? SelfTestOutcome.Pass : SelfTestOutcome.Fail,
                $"max |freq − p| {worst:F4}, zero-p drawn: {impossible}", "≤ 0.02 over 20000 draws, zero-p never");
        }

        public SelfTestResult IndexSelect()
        {
            using var scope = NewDisposeScope();
            var table = Rounded(Randn(50, 32));
            var ids = randint(0, 50, new long[] { 12 }, generator: generator);
            bool same = Same(OnDevice(table).index_select(0, ids.to(device)).to(ScalarType.Float32, CPU), table.index_select(0, ids));
            return SelfTestResult.Exact("op index_select", same, same ? "12 rows identical" : "rows differ");
        }

        public SelfTestResult Gather()
        {
            using var scope = NewDisposeScope();
            var x = Rounded(Randn(6, 40));
            var idx = randint(0, 40, new long[] { 6, 5 }, generator: generator);
            bool same = Same(OnDevice(x).gather(1, idx.to(device)).to(ScalarType.Float32, CPU), x.gather(1, idx));
            return SelfTestResult.Exact("op gather", same, same ? "6×5 identical" : "values differ");
        }

        public SelfTestResult Scatter()
        {
            using var scope = NewDisposeScope();
            var src = Rounded(Randn(6, 5));
            var idx = stack(Enumerable.Range(0, 6).Select(_ => randperm(40, generator: generator).narrow(0, 0, 5)).ToArray()); // unique per row
            var expected = zeros(6, 40).scatter(1, idx, src);
            var actual = zeros([6, 40], dtype, device).scatter(1, idx.to(device), OnDevice(src));
            bool same = Same(actual.to(ScalarType.Float32, CPU), expected);
            return SelfTestResult.Exact("op scatter", same, same ? "6×40 identical" : "values differ");
        }
    }
}
