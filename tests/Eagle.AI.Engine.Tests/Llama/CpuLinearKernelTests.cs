using Eagle.AI.Engine.Checkpoints;
using Eagle.AI.Engine.Decoding;
using Eagle.AI.Engine.Llama;
using Eagle.AI.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Tests.Llama;

/// <summary>Switches the bf16 loop (native or managed) for the whole process, so these run alone.</summary>
[Collection(NonParallel.Name)]
public class CpuLinearKernelTests
{
    public static readonly TheoryData<string, ScalarType> PresetsAndDtypes = new()
    {
        { "tiny", ScalarType.Float32 }, { "tiny", ScalarType.BFloat16 },
        { "small", ScalarType.Float32 }, { "small", ScalarType.BFloat16 },
        { "llama3-1b", ScalarType.Float32 }, { "llama3-1b", ScalarType.BFloat16 },
    };

    // Every linear of a decoder layer plus the lm_head, as [out, in]: fused q/k/v, o, fused gate/up, down, lm_head.
    private static (string Name, long Out, long In)[] Shapes(LlamaConfig c) =>
    [
        ("qkv", (c.NumAttentionHeads + 2L * c.NumKeyValueHeads) * c.HeadDim, c.HiddenSize),
        ("o", c.HiddenSize, (long)c.NumAttentionHeads * c.HeadDim),
        ("gate_up", 2L * c.IntermediateSize, c.HiddenSize),
        ("down", c.HiddenSize, c.IntermediateSize),
        ("lm_head", c.VocabSize, c.HiddenSize),
    ];

    /// <summary>
    /// The kernel against libtorch for n from 1 to 11 on every layer shape. Both accumulate in fp32 in different orders, so
    /// they may differ by the order's rounding, which is at most a few units of 2⁻²⁴ times Σ|w·x| for these lengths
    /// (1e-5·Σ|w·x| leaves a wide margin yet is ~3e-4 of a typical |y|, so a dropped or doubled term fails). In bf16
    /// both then round to 8 significant bits, so two nearly equal sums can also land one bf16 step apart: 2⁻⁷·|y|.
    /// Odd and even counts: the two-input passes and the one-input pass after them; in bf16 also the four-input tiles and
    /// their remainders, and where the CPU has no bf16 instructions (the loop then takes up to 64 rows) 64 rows on the
    /// smaller shapes.
    /// </summary>
    [Avx512Theory]
    [MemberData(nameof(PresetsAndDtypes))]
    public void Matches_libtorch_on_every_layer_shape(string preset, ScalarType dtype) =>
        WithNativeBf16(false, () => MatchesLibtorch(preset, dtype,
            dtype == ScalarType.Float32 ? [1, 2, 3, 7, 8, LinearDispatch.MaxKernelRows]
            : LinearDispatch.MaxRows(dtype) < LinearDispatch.MaxNativeRows || preset == "llama3-1b" ? [1, 2, 3, 4, 5, 6, 7, 9, LinearDispatch.MaxKernelRows]
            : [1, 4, 5, 6, 7, 9, 13, LinearDispatch.MaxNativeRows]));

    /// <summary>
    /// The native VDPBF16PS loop against libtorch, at every input-tile remainder (its tiles are 4 inputs; 8 in the
    /// AVX-512F build from 8 inputs on) up to its row limit, on every layer shape; the same tolerance (its products of two bf16 are exact in fp32, and it sums in fp32).
    /// </summary>
    [NativeBf16Theory]
    [InlineData("tiny")]
    [InlineData("small")]
    [InlineData("llama3-1b")]
    public void The_native_bf16_loop_matches_libtorch_on_every_layer_shape(string preset) =>
        WithNativeBf16(true, () => MatchesLibtorch(preset, ScalarType.BFloat16, [1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 31, LinearDispatch.MaxNativeRows]));

    /// <summary>
    /// The fp32 result the logits take (<see cref="LinearDispatch.ApplyFloat32"/>) holds exactly the bf16 result's
    /// values widened, at every input-tile remainder and over several output chunks (so both threads write it); where the
    /// kernel does not take the product, the same values come from a conversion. Native loop and managed loop.
    /// </summary>
    [NativeBf16Fact]
    public void The_fp32_result_of_the_native_loop_is_the_bf16_result_widened_bit_for_bit() =>
        WithNativeBf16(true, Float32ResultIsTheBf16ResultWidened);

    [Avx512Fact]
    public void The_fp32_result_of_the_managed_loop_is_the_bf16_result_widened_bit_for_bit() =>
        WithNativeBf16(false, Float32ResultIsTheBf16ResultWidened);

    private static void Float32ResultIsTheBf16ResultWidened()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        var w = randn([1000, 256], generator: gen).to(ScalarType.BFloat16);
        int most = LinearDispatch.MaxRows(ScalarType.BFloat16);
        // With no row limit (the native panel GEMM), also its counts: one panel, a half panel after full ones, two blocks.
        int[] counts = most == int.MaxValue ? [1, 2, 3, 4, 5, 8, 9, 13, 32, 48, 100, 530] : [1, 2, 3, 4, 5, 8, 9, 13, most];
        foreach (int n in counts.Where(n => n <= most))
        {
            var x = randn([n, 256], generator: gen).to(ScalarType.BFloat16);
            var wide = CpuLinearKernel.Linear(x, w, threads: 2, float32: true);
            Assert.Equal(ScalarType.Float32, wide.dtype);
            Assert.True(Same(wide, CpuLinearKernel.Linear(x, w, threads: 2).to(ScalarType.Float32)), $"n={n}");
            Assert.True(Same(LinearDispatch.ApplyFloat32(x, w), wide), $"n={n} through the dispatch");
        }
        if (most != int.MaxValue)
        {
            var many = randn([most + 1, 256], generator: gen).to(ScalarType.BFloat16);                   // past the kernel
            var converted = LinearDispatch.ApplyFloat32(many, w);
            Assert.Equal(ScalarType.Float32, converted.dtype);
            Assert.True(Same(converted, LinearDispatch.Apply(many, w).to(ScalarType.Float32)));
        }
        var f32 = randn([3, 256], generator: gen);                                                        // an fp32 model's
        Assert.True(LinearDispatch.ApplyFloat32(f32, w.to(ScalarType.Float32)).allclose(nn.functional.linear(f32, w.to(ScalarType.Float32)), 1e-5, 1e-5));
        Assert.Throws<ArgumentException>(() => CpuLinearKernel.Linear(f32, w.to(ScalarType.Float32), threads: 2, float32: true));
    }

    /// <summary>
    /// Where libtorch's bf16 GEMM is emulated (<see cref="LinearDispatch.EmulatedBf16"/>), a bf16 product past the
    /// kernel's rows goes through fp32: within one bf16 rounding of the float64 product; elsewhere it is libtorch's own
    /// bf16 product.
    /// </summary>
    [Fact]
    public void A_bf16_product_past_the_kernel_goes_through_fp32_where_libtorch_would_emulate_bf16() =>
        WithNativeBf16(false, () =>
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var gen = new Generator(9);
        var w = randn([96, 128], generator: gen).to(ScalarType.BFloat16);
        Switched.With(() => LinearDispatch.EmulatedBf16, v => LinearDispatch.EmulatedBf16 = v, true, () =>
        {
            var x = randn([LinearDispatch.MaxRows(ScalarType.BFloat16) + 3, 128], generator: gen).to(ScalarType.BFloat16);
            Assert.False(LinearDispatch.Fits(x, w));
            var exact = TensorAssert.Rows(nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64)));
            var magnitude = TensorAssert.Rows(nn.functional.linear(x.abs().to(ScalarType.Float64), w.abs().to(ScalarType.Float64)));
            var y = LinearDispatch.Apply(x, w);
            Assert.Equal(ScalarType.BFloat16, y.dtype);
            var actual = TensorAssert.Rows(y);
            for (int i = 0; i < actual.Length; i++)
                for (int j = 0; j < actual[i].Length; j++)
                {
                    double tolerance = Math.Abs(exact[i][j]) * Math.Pow(2, -8) + 1e-6 * magnitude[i][j]; // one bf16 rounding
                    Assert.True(Math.Abs(actual[i][j] - exact[i][j]) <= tolerance, $"[{i},{j}]: {actual[i][j]} vs {exact[i][j]}");
                }
        });
        Switched.With(() => LinearDispatch.EmulatedBf16, v => LinearDispatch.EmulatedBf16 = v, false, () =>
        {
            var x = randn([LinearDispatch.MaxRows(ScalarType.BFloat16) + 3, 128], generator: gen).to(ScalarType.BFloat16);
            Assert.True(Same(LinearDispatch.Apply(x, w), nn.functional.linear(x, w)));
        });
    });

    /// <summary>
    /// The native panel GEMM, which takes bf16 products of <see cref="CpuLinearKernel.MinPanelRows"/> rows and more where
    /// libtorch's bf16 is emulated: within one bf16 rounding of the float64 product (plus the fp32 sum's own rounding)
    /// for row counts of one panel, a half panel after full ones, an odd count, and more than one block of 512 rows;
    /// weights whose rows are not whole tiles (12) or groups (96), and widths that are not whole passes (256 columns).
    /// </summary>
    [NativeBf16Fact]
    public void The_panel_gemm_is_within_one_bf16_rounding_of_the_float64_product() =>
        WithNativeBf16(true, () => Switched.With(() => LinearDispatch.EmulatedBf16, v => LinearDispatch.EmulatedBf16 = v, true, () =>
    {
        using var noGrad = no_grad();
        var gen = new Generator(13);
        Assert.Equal(int.MaxValue, LinearDispatch.MaxRows(ScalarType.BFloat16));
        foreach (var (outF, inF) in new[] { (7L, 64L), (200L, 96L), (1000L, 320L) })
        {
            using var scope = NewDisposeScope();
            var w = randn([outF, inF], generator: gen).to(ScalarType.BFloat16);
            foreach (int n in new[] { CpuLinearKernel.MinPanelRows, 33, 48, 77, 530 })
            {
                var x = randn([n, inF], generator: gen).to(ScalarType.BFloat16);
                Assert.True(LinearDispatch.Fits(x, w));
                var exact = TensorAssert.Rows(nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64)));
                var magnitude = TensorAssert.Rows(nn.functional.linear(x.abs().to(ScalarType.Float64), w.abs().to(ScalarType.Float64)));
                var actual = TensorAssert.Rows(LinearDispatch.Apply(x, w));
                Assert.Equal(n, actual.Length);
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < outF; j++)
                    {
                        double tolerance = Math.Abs(exact[i][j]) * Math.Pow(2, -8) + 1e-6 * magnitude[i][j];
                        Assert.True(Math.Abs(actual[i][j] - exact[i][j]) <= tolerance,
                            $"{outF}×{inF} n={n} [{i},{j}]: {actual[i][j]} vs {exact[i][j]}");
                    }
            }
        }
    }));

    /// <summary>
    /// While the kernel holds the threads (libtorch at one), a big libtorch op (a prefill chunk's attention) runs on
    /// all of them and the kernel has them again afterwards, also when the op throws.
    /// </summary>
    [Fact]
    public void A_big_libtorch_op_gets_the_threads_the_kernel_holds_and_gives_them_back()
    {
        int before = get_num_threads();
        try
        {
            set_num_threads(2);
            Assert.Equal(2, LinearDispatch.OwnThreads());
            Assert.Equal(1, get_num_threads());
            Assert.Equal(2, LinearDispatch.OnTorchThreads(get_num_threads));
            Assert.Equal(1, get_num_threads());
            Assert.Throws<InvalidOperationException>(() => LinearDispatch.OnTorchThreads<int>(() => throw new InvalidOperationException()));
            Assert.Equal(1, get_num_threads());
        }
        finally
        {
            LinearDispatch.ReturnThreads();
            set_num_threads(before);
        }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void The_native_loop_is_there_wherever_the_cpu_has_it_and_a_c_compiler_built_it()
    {
        bool compiler = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "cc")));
        if (CpuLinearKernel.IsSupported && OperatingSystem.IsLinux() && compiler)
            Assert.True(CpuLinearKernel.NativeBf16Available,
                $"the CPU has AVX-512 and cc exists, yet {(CpuFeatures.HasAvx512BFloat16 ? "libeagle_cpu.so" : "libeagle_cpu_avx512.so")} did not load");
        if (!CpuLinearKernel.NativeBf16Available)
            Assert.Throws<InvalidOperationException>(() => CpuLinearKernel.NativeBf16 = true);
    }

    private static void WithNativeBf16(bool native, Action test) =>
        Switched.With(() => CpuLinearKernel.NativeBf16, v => CpuLinearKernel.NativeBf16 = v, native, test);

    private static void MatchesLibtorch(string preset, ScalarType dtype, int[] rowCounts)
    {
        using var noGrad = no_grad();
        var gen = new Generator(11);
        double rounding = dtype == ScalarType.BFloat16 ? Math.Pow(2, -7) : 0;
        foreach (var (name, outF, inF) in Shapes(LlamaPresets.Get(preset)))
        {
            using var scope = NewDisposeScope();
            var w = randn([outF, inF], generator: gen).to(dtype);
            var wAbs = w.abs();
            foreach (int n in rowCounts)
            {
                var x = randn([n, inF], generator: gen).to(dtype);
                Assert.True(LinearDispatch.Fits(x, w), $"{preset} {name} n={n} should take the kernel");
                var actual = TensorAssert.Rows(CpuLinearKernel.Linear(x, w, threads: 2));
                var expected = TensorAssert.Rows(nn.functional.linear(x, w));
                var magnitude = TensorAssert.Rows(nn.functional.linear(x.abs(), wAbs));
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < outF; j++)
                    {
                        double a = actual[i][j], e = expected[i][j];
                        double tol = rounding * Math.Max(Math.Abs(a), Math.Abs(e)) + 1e-5 * magnitude[i][j];
                        Assert.True(Math.Abs(a - e) <= tol, $"{preset} {name} {dtype} n={n} [{i},{j}]: {a} vs libtorch {e} (tol {tol:E2})");
                    }
            }
        }
    }

    [Fact]
    public void Only_few_contiguous_gradient_free_cpu_rows_of_a_supported_dtype_fit()
    {
        using var scope = NewDisposeScope();
        var w = randn(96, 64);
        Assert.True(LinearDispatch.Fits(randn(1, 64), w));
        Assert.True(LinearDispatch.Fits(randn(1, 7, 64), w));
        Assert.True(LinearDispatch.Fits(randn(11, 64), w));
        Assert.True(LinearDispatch.Fits(randn(3, 64).to(ScalarType.BFloat16), w.to(ScalarType.BFloat16)));
        Assert.False(LinearDispatch.Fits(randn(12, 64), w));                                  // fp32 n > 11: oneDNN's GEMM
        var wb = w.to(ScalarType.BFloat16);                                                    // bf16: up to the loop's limit
        int most = LinearDispatch.MaxRows(ScalarType.BFloat16);
        if (most == int.MaxValue) // the native panel GEMM (no bf16 instructions here) takes any count
            Assert.True(LinearDispatch.Fits(randn(4096, 64).to(ScalarType.BFloat16), wb));
        else
        {
            Assert.True(LinearDispatch.Fits(randn(most, 64).to(ScalarType.BFloat16), wb));
            Assert.False(LinearDispatch.Fits(randn(most + 1, 64).to(ScalarType.BFloat16), wb));
        }
        Assert.False(LinearDispatch.Fits(randn(64, 3).t(), w));                               // non-contiguous x
        Assert.False(LinearDispatch.Fits(randn(1, 64), randn(64, 96).t()));                   // non-contiguous W
        Assert.False(LinearDispatch.Fits(randn(1, 64).requires_grad_(), w));                 // autograd
        Assert.False(LinearDispatch.Fits(randn(1, 64), randn(96, 64).requires_grad_()));
        Assert.False(LinearDispatch.Fits(randn(1, 64).to(ScalarType.Float16), w.to(ScalarType.Float16)));
        Assert.False(LinearDispatch.Fits(randn(1, 64).to(ScalarType.BFloat16), w));          // mixed dtypes
        Assert.False(LinearDispatch.Fits(randn(1, 48), randn(96, 48)));                      // in not a multiple of 32
        Assert.False(LinearDispatch.Fits(empty(1, 64, device: META), empty(96, 64, device: META))); // not the CPU
    }

    [Fact]
    public void What_does_not_fit_gets_libtorchs_result_and_autograd()
    {
        using var scope = NewDisposeScope();
        var w = randn(96, 64).requires_grad_();
        var x = randn(2, 64);
        var y = LinearDispatch.Apply(x, w);
        Assert.True(y.requires_grad);
        y.sum().backward();
        Assert.NotNull(w.grad);
        // A device other than the CPU (meta here; CUDA in the same branch) never reaches the kernel, which would read
        // its memory: the result comes from libtorch with the right shape.
        var onMeta = LinearDispatch.Apply(empty(1, 64, device: META), empty(96, 64, device: META));
        Assert.Equal(DeviceType.META, onMeta.device_type);
        Assert.Equal([1L, 96L], onMeta.shape);
    }
}

/// <summary>Turns the kernel off and on for the whole process, so it runs alone.</summary>
[Collection(NonParallel.Name)]
public class CpuLinearKernelGreedyTests
{
    [Avx512Theory]
    [InlineData("C")]
    [InlineData("A")]
    public void Greedy_tokens_are_the_same_with_and_without_the_kernel(string name)
    {
        using var m = TestModels.Create(name, seed: 3);
        int[] prompt = [5, 9, 14, 20, 31];
        var options = new GenerationOptions { MaxNewTokens = 24, StopTokenIds = [] };
        using (var x = randn(1, 1, m.Config.HiddenSize))
            Assert.True(LinearDispatch.Fits(x, m.model.layers[0].self_attn.o_proj.weight)); // the kernel is really taken
        bool before = LinearDispatch.CpuKernels;
        try
        {
            LinearDispatch.CpuKernels = true;
            var with = new VanillaGenerator(m).Generate(prompt, options).OutputIds;
            LinearDispatch.CpuKernels = false;
            var without = new VanillaGenerator(m).Generate(prompt, options).OutputIds;
            Assert.Equal(without, with);
        }
        finally
        {
            LinearDispatch.CpuKernels = before;
        }
    }
}
