using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eagle.AI.Engine.Runtime;
using static TorchSharp.torch;

namespace Eagle.AI.Engine.Llama;

/// <summary>
/// y [n, out] = x [n, in] · W [out, in]ᵀ for a few rows n, with AVX-512 on the tensors' own memory. Why: a one-token
/// decode step is weight × vector products, which must stream each weight once at memory speed. Measured on the 2-core
/// AVX-512 EPYC this targets, libtorch did not: in bf16 oneDNN's brgemm re-laid out the whole weight on every call (47%
/// of samples in its copy_b routine, 35% in OpenMP barriers; ~20 GB/s), and fp32 went to MKL's generic GEMV (~24 GB/s),
/// while a plain two-thread AVX-512 read runs at ~70 GB/s. So this reads W in place, four rows per pass and all n inputs
/// per pass (the later reads hit the cache), two inputs at a time so each weight load and bf16 widening serves both,
/// bf16 widened to fp32 by a shift, accumulating in fp32, and rounds the output to the activation dtype once, as
/// libtorch does. Beyond a few rows that managed loop is bound by fp32 FMAs (.NET has no AVX512-BF16 dot-product
/// intrinsic), so the bf16 product goes to the same loop in C (<c>Native/eagle_cpu.c</c>, built with the engine where
/// a C compiler exists): with VDPBF16PS where the CPU has AVX512-BF16, twice the products per instruction on the bf16
/// inputs as they are; elsewhere the same sums from shifts, masks and FMAs, which the C compiler schedules better than
/// the JIT does this loop (an 8-token verify 1.36 against 1.85 one-token steps, 1.11 with its 4 × 8 tile, on a Xeon without
/// AVX512-BF16). The managed loop remains where the native library is not there. Without bf16 instructions, products of
/// <see cref="MinPanelRows"/> rows and more (a prefill) go to the library's panel GEMM instead, bound by FMAs rather
/// than by widening: the inputs packed once into fp32 panels, the weights widened a block at a time.
/// </summary>
internal static unsafe class CpuLinearKernel
{
    /// <summary>in must be a multiple of this: one 64-byte load of bf16 (two of fp32) per row and step.</summary>
    public const int Block = 32;

    private const int RowsPerPass = 4;

    [ThreadStatic]
    private static float[]? scratch; // the caller's widened bf16 inputs, reused across calls

    /// <summary>
    /// Whether this CPU has the instructions the kernel uses and a tensor's memory can be reached (else callers stay on
    /// libtorch).
    /// </summary>
    public static bool IsSupported => Avx512F.IsSupported && Avx512BW.IsSupported && DataReachable.Value;

    // The data pointer comes from LibTorchSharp's own export; should an unusual deployment not let this assembly bind
    // it, the kernel is off rather than decoding failing.
    internal static readonly Lazy<bool> DataReachable = new(() =>
    {
        try
        {
            using var probe = ones(4);
            return *(float*)Data(probe) == 1f;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    });

    /// <summary>
    /// Whether the native bf16 code is in use: the bf16 products' loop, the decoder layer's small ops and decode
    /// attention. Default: where the library loads, unless <c>EAGLE_NATIVE_KERNEL=0</c>; settable so tests and
    /// comparisons can run both ways in one process. Setting it true where the library is unavailable is refused.
    /// </summary>
    public static bool NativeBf16
    {
        get => nativeBf16;
        set
        {
            if (value && !NativeBf16Available)
                throw new InvalidOperationException("The native bf16 code is not available here (no AVX-512 on this CPU, or libeagle_cpu was not built or did not load).");
            nativeBf16 = value;
        }
    }

    /// <summary>
    /// Whether the native bf16 code can run here: the CPU has AVX-512F/BW and the library built for it loads —
    /// <c>libeagle_cpu.so</c> with AVX512-BF16, else <c>libeagle_cpu_avx512.so</c>, which computes its dot products and
    /// roundings from AVX-512F/BW instructions.
    /// </summary>
    public static bool NativeBf16Available => nativeAvailable.Value;

    // Loads the build for this CPU and binds every DllImport of NativeLibraryName in this assembly to it.
    private static readonly Lazy<bool> nativeAvailable = new(() =>
    {
        if (!Avx512F.IsSupported || !Avx512BW.IsSupported) return false;
        var assembly = typeof(CpuLinearKernel).Assembly;
        string build = CpuFeatures.HasAvx512BFloat16 ? NativeLibraryName : NativeLibraryName + "_avx512";
        if (!NativeLibrary.TryLoad(build, assembly, null, out var handle)) return false;
        NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => name == NativeLibraryName ? handle : IntPtr.Zero);
        return true;
    });

    /// <summary>
    /// The native library every native CPU path binds (<c>libeagle_cpu.so</c> or <c>libeagle_cpu_avx512.so</c>, both
    /// from <c>Native/eagle_cpu.c</c>).
    /// </summary>
    internal const string NativeLibraryName = "eagle_cpu";

    // After nativeAvailable, which its initializer reads.
    private static bool nativeBf16 = NativeBf16Available && Environment.GetEnvironmentVariable("EAGLE_NATIVE_KERNEL") != "0";

    // y [n, out] rows first ≤ j < last = x [n, in] · w [out, in]ᵀ, all bf16 (Native/eagle_cpu.c).
    [DllImport(NativeLibraryName)]
    private static extern void eagle_linear_bf16(ushort* w, ushort* x, ushort* y, int n, int inF, int outF, int first, int last);

    // The same with y fp32 [n, out], each value rounded to bf16 first (the logits, read in fp32).
    [DllImport(NativeLibraryName)]
    private static extern void eagle_linear_bf16_f32(ushort* w, ushort* x, float* y, int n, int inF, int outF, int first, int last);

    // Packs 16-row halves [first, last) of x [n, in] bf16 into fp32 panels of 32 rows, column-major (Native/eagle_cpu.c).
    [DllImport(NativeLibraryName)]
    private static extern void eagle_pack_panels(ushort* x, float* xt, int n, int inF, int first, int last);

    // Rows first ≤ j < last of x · wᵀ from the packed panels, into y (bf16) or y32 (fp32); 0, or −1 without scratch.
    [DllImport(NativeLibraryName)]
    private static extern int eagle_linear_bf16_panels(ushort* w, float* xt, ushort* y, float* y32, int n, int inF, int outF, int first, int last);

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The first element of a CPU tensor (its storage offset included).</summary>
    public static void* Data(Tensor t) => (void*)THSTensor_data(t.Handle);

    /// <summary>
    /// x [.., in] · weight [out, in]ᵀ → [.., out] in x's dtype. The caller checks: CPU, contiguous, one dtype of
    /// bfloat16 or float32, in a multiple of <see cref="Block"/>, n = x's rows ≥ 1, on <paramref name="threads"/> threads.
    /// <paramref name="float32"/>: bf16 products only — the result in
    /// fp32, the values of the bf16 result widened, written in the product's own pass.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, int threads, bool float32 = false)
    {
        int inF = (int)weight.shape[1], outF = (int)weight.shape[0], n = (int)(x.NumberOfElements / inF);
        bool bf16 = weight.dtype == ScalarType.BFloat16;
        if (float32 && !bf16) throw new ArgumentException("an fp32 result is only written for a bf16 product", nameof(float32));
        long[] shape = [.. x.shape[..^1], outF];
        var y = empty(shape, float32 ? ScalarType.Float32 : x.dtype, x.device);
        if (bf16 && n >= MinPanelRows && LinearDispatch.PanelGemm)
        {
            Panels(weight, (ushort*)Data(x), Data(y), n, inF, outF, threads, float32);
            return y;
        }
        if (bf16 && NativeBf16)
        {
            var native = new Job { W = Data(weight), X = (float*)Data(x), Y = Data(y), N = n, In = inF, Out = outF, Native = true, Float32 = float32 };
            CpuWorkers.Run(Parts(weight, threads), &RunPart, &native);
            return y;
        }
        // bf16 inputs are widened once (n·in values) into the layout the kernel reads: per 32 inputs, the 16 at even
        // positions then the 16 at odd positions, matching the two halves of each 32-bit lane of a weight load.
        if (bf16 && (scratch is null || scratch.Length < n * inF + 16)) scratch = new float[n * inF + 16]; // + 16: to align
        fixed (float* w = scratch)
        {
            float* xs = bf16 ? Align(w) : (float*)Data(x);
            if (bf16) Widen((ushort*)Data(x), xs, n * inF);
            var job = new Job
            {
                W = Data(weight), X = xs, Y = Data(y), N = n, In = inF, Out = outF, Bf16 = bf16, Float32 = float32,
            };
            CpuWorkers.Run(Parts(weight, threads), &RunPart, &job);
        }
        return y;
    }

    /// <summary>
    /// Fewest rows a bf16 product needs to go to the native panel GEMM where the CPU has no bf16 instructions (a
    /// prefill, a large batch). Measured on a 2-core Xeon without them, one 2048 → 8192 product on 2 threads, the panel
    /// GEMM against the few-row loop: 16 rows 0.81×, 24 rows 0.82×, 32 rows 1.13×, 48 rows 1.23×, 128 rows 1.44×.
    /// </summary>
    public const int MinPanelRows = 32;

    // Most rows one panel product packs at once (larger products go in blocks of it, each reading the weights again):
    // keeps the packed fp32 inputs at 512 × in (16 MB for in = 8192). Another read of llama3-1b's weights is ~0.1 s at
    // this machine's bandwidth against ~4 s of arithmetic for a block of 512 rows.
    private const int MaxPanelRows = 512;

    // Weight rows a worker takes at a time: one group of the native GEMM (PANEL_MC), ~20 chunks for a 2048-row weight.
    private const int PanelGroup = 96;

    [ThreadStatic]
    private static float[]? panelScratch; // the packed inputs, reused across calls

    // x [n, in] · wᵀ through the native panel GEMM, in blocks of at most MaxPanelRows rows: each block's inputs packed
    // (split over the threads), then its product (the weight rows in chunks, as for the loop).
    private static void Panels(Tensor weight, ushort* x, void* y, int n, int inF, int outF, int threads, bool float32)
    {
        for (int i0 = 0; i0 < n; i0 += MaxPanelRows)
        {
            int rows = Math.Min(MaxPanelRows, n - i0);
            long need = (long)(rows + 31) / 32 * 32 * inF + 16;
            if (panelScratch is null || panelScratch.Length < need) panelScratch = new float[need];
            fixed (float* s = panelScratch)
            {
                var job = new Job
                {
                    W = Data(weight), X = (float*)(x + (long)i0 * inF), Packed = Align(s), N = rows, In = inF, Out = outF,
                    Y = (byte*)y + (long)i0 * outF * (float32 ? 4 : 2), Float32 = float32, Panels = true,
                };
                CpuWorkers.Run(threads, &PackPart, &job);
                CpuWorkers.Run(Parts(weight, threads), &RunPart, &job);
                if (job.Failed != 0) throw new OutOfMemoryException("the native panel GEMM could not allocate its scratch");
            }
        }
    }

    private static void PackPart(void* state, int part, int parts)
    {
        ref var job = ref *(Job*)state;
        int halves = 2 * ((job.N + 31) / 32); // whole panels: a last half past n is zeros
        eagle_pack_panels((ushort*)job.X, job.Packed, job.N, job.In, halves * part / parts, halves * (part + 1) / parts);
    }

    // Below ~1 MB of weight a second thread's wake-up costs about what it saves.
    private static int Parts(Tensor weight, int threads) => weight.NumberOfElements * weight.ElementSize < (1 << 20) ? 1 : threads;

    /// <summary>Sum of <paramref name="count"/> floats (a multiple of 64) at <paramref name="p"/>; reads them once, for the bandwidth probe.</summary>
    public static float Sum(float* p, long count)
    {
        Vector512<float> a = default, b = default, c = default, d = default;
        for (long i = 0; i < count; i += 64)
        {
            a += Vector512.Load(p + i);
            b += Vector512.Load(p + i + 16);
            c += Vector512.Load(p + i + 32);
            d += Vector512.Load(p + i + 48);
        }
        return Vector512.Sum(a + b + c + d);
    }

    private struct Job
    {
        public void* W, Y;
        public float* X;
        public int N, In, Out;
        public int Taken; // chunks handed out
        public bool Bf16, Native; // Native: X is the bf16 input itself, for eagle_linear_bf16
        public bool Float32;      // bf16 products: Y is fp32, each value rounded to bf16 first (eagle_linear_bf16_f32 natively)
        public bool Panels;       // the native panel GEMM: X is the bf16 input, Packed its fp32 panels
        public float* Packed;
        public int Failed;        // a panel product's scratch could not be allocated
    }

    // ~1 MB of weight rows a chunk: large enough that taking one costs nothing measurable.
    private const int ChunkBytes = 1 << 20;

    // The tiled bf16 loop reads its chunk once per four inputs, so its chunk is kept to what stays in L2 (256 KB): on
    // the 2-core Xeon (2 MB L2 a core) 8 inputs took 1.66 × a one-token step with it against 1.77 with 1 MB chunks.
    private const int TiledChunkBytes = 1 << 18;

    // The parts take chunks of whole 4-row passes from a shared counter until none are left, rather than a fixed half
    // each: on a shared machine one core is often slower for a while, and a fixed split then makes the other wait for
    // it. Measured on llama3-1b bf16, 2 threads, the two splits alternating in one process (median ms a token): quiet,
    // 57.1 fixed vs 56.9 chunked (256 KB chunks: 55.6 vs 56.9, hence 1 MB); with a busy loop on one of the two cores,
    // 178 vs 123. Which thread computes a row does not change its value.
    private static void RunPart(void* state, int part, int parts)
    {
        ref var job = ref *(Job*)state;
        if (parts == 1)
        {
            RunRows(ref job, 0, job.Out);
            return;
        }
        int pass = job.Panels ? PanelGroup : RowsPerPass;
        int passes = (job.Out + pass - 1) / pass;
        int chunk = job.Panels ? 1 : Math.Max(1, (job.Bf16 && job.N >= TileInputs ? TiledChunkBytes : ChunkBytes) / (job.In * (job.Native || job.Bf16 ? 2 : 4) * RowsPerPass));
        while (true)
        {
            long firstPass = (long)(Interlocked.Increment(ref job.Taken) - 1) * chunk;
            if (firstPass >= passes) return;
            RunRows(ref job, (int)firstPass * pass, (int)Math.Min(job.Out, (firstPass + chunk) * pass));
        }
    }

    // Rows [first, last) of the product.
    private static void RunRows(ref Job job, int first, int last)
    {
        if (job.Panels)
        {
            if (eagle_linear_bf16_panels((ushort*)job.W, job.Packed, job.Float32 ? null : (ushort*)job.Y, job.Float32 ? (float*)job.Y : null,
                    job.N, job.In, job.Out, first, last) != 0)
                Volatile.Write(ref job.Failed, 1);
            return;
        }
        if (job.Native)
        {
            if (job.Float32) eagle_linear_bf16_f32((ushort*)job.W, (ushort*)job.X, (float*)job.Y, job.N, job.In, job.Out, first, last);
            else eagle_linear_bf16((ushort*)job.W, (ushort*)job.X, (ushort*)job.Y, job.N, job.In, job.Out, first, last);
            return;
        }
        // bf16 inputs four at a time while there are four, each block of four over the whole run of rows: a weight load
        // and its widening then serve four inputs, the four stay in L1 and the run's weights (a tiled chunk) in L2.
        int tiled = job.Bf16 ? job.N / TileInputs * TileInputs : 0;
        for (int i4 = 0; i4 < tiled; i4 += TileInputs)
            for (int r = first; r < last; r += RowsPerPass)
            {
                int rows = Math.Min(RowsPerPass, last - r);
                long r1 = r + Math.Min(1, rows - 1), r2 = r + Math.Min(2, rows - 1), r3 = r + rows - 1;
                Dot4x4Bf16(ref job, (ushort*)job.W + (long)r * job.In, (ushort*)job.W + r1 * job.In,
                    (ushort*)job.W + r2 * job.In, (ushort*)job.W + r3 * job.In, i4, r, rows);
            }
        for (int r = first; r < last; r += RowsPerPass)
        {
            // A short last pass repeats its last row rather than needing a second code path; only real rows are stored.
            int rows = Math.Min(RowsPerPass, last - r);
            long r1 = r + Math.Min(1, rows - 1), r2 = r + Math.Min(2, rows - 1), r3 = r + rows - 1;
            int i = tiled;
            // Two inputs at a time: each weight load (and bf16 widening) then serves both.
            for (; i + 1 < job.N; i += 2)
            {
                float* x0 = job.X + (long)i * job.In, x1 = x0 + job.In;
                var (s0, s1) = job.Bf16
                    ? Dot4x2Bf16((ushort*)job.W + (long)r * job.In, (ushort*)job.W + r1 * job.In,
                        (ushort*)job.W + r2 * job.In, (ushort*)job.W + r3 * job.In, x0, x1, job.In)
                    : Dot4x2F32((float*)job.W + (long)r * job.In, (float*)job.W + r1 * job.In,
                        (float*)job.W + r2 * job.In, (float*)job.W + r3 * job.In, x0, x1, job.In);
                Store(ref job, s0, i, r, rows);
                Store(ref job, s1, i + 1, r, rows);
            }
            if (i < job.N)
            {
                float* x = job.X + (long)i * job.In;
                Vector128<float> s = job.Bf16
                    ? Dot4Bf16((ushort*)job.W + (long)r * job.In, (ushort*)job.W + r1 * job.In,
                        (ushort*)job.W + r2 * job.In, (ushort*)job.W + r3 * job.In, x, job.In)
                    : Dot4F32((float*)job.W + (long)r * job.In, (float*)job.W + r1 * job.In,
                        (float*)job.W + r2 * job.In, (float*)job.W + r3 * job.In, x, job.In);
                Store(ref job, s, i, r, rows);
            }
        }
    }

    // Input i's outputs r .. r + rows − 1, rounded to the activation dtype.
    private static void Store(ref Job job, Vector128<float> s, int i, int r, int rows)
    {
        long at = (long)i * job.Out + r;
        for (int k = 0; k < rows; k++)
        {
            if (job.Float32) ((uint*)job.Y)[at + k] = (uint)ToBf16(s.GetElement(k)) << 16;
            else if (job.Bf16) ((ushort*)job.Y)[at + k] = ToBf16(s.GetElement(k));
            else ((float*)job.Y)[at + k] = s.GetElement(k);
        }
    }

    private const int TileInputs = 4;

    // Four bf16 rows against four widened inputs, stored. Without AVX512-BF16 a product of several inputs is bound by
    // vector ops, and the FMAs share their two ports with the widening shifts and masks (measured on a 2-core Xeon
    // without it: 12 FMAs alone run 5.4 G/s a core, beside 6 shifts or masks 3.6 G/s), so the lever is fewer widenings
    // per FMA: here 2 per 8 FMAs, against 2 per 4 in the two-input tile below. 16 accumulators + 8 input halves + a
    // widened row fit the 32 registers (six inputs did not: the JIT keeps each input load in a register, and spilled).
    // Each accumulator sums a row's even and odd products in turn; 16 independent chains keep the FMA units busy.
    // Measured on that Xeon, llama3-1b bf16, as the verify-cost curve (× a one-token step), with and without this tile
    // in one window: 4 inputs 1.38 → 1.19, 8 inputs 1.87 → 1.66, 16 inputs 2.87 → 2.57, 64 inputs 9.94 → 8.18. (This
    // is the loop where the native library is not there; the native loop's AVX-512F build does better still.)
    private static void Dot4x4Bf16(ref Job job, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int i, int r, int rows)
    {
        var high = Vector512.Create(0xFFFF0000u);
        int inF = job.In;
        float* x0 = job.X + (long)i * inF, x1 = x0 + inF, x2 = x1 + inF, x3 = x2 + inF;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (int k = 0; k < inF; k += Block)
        {
            var e0x = Vector512.Load(x0 + k); var o0x = Vector512.Load(x0 + k + 16);
            var e1x = Vector512.Load(x1 + k); var o1x = Vector512.Load(x1 + k + 16);
            var e2x = Vector512.Load(x2 + k); var o2x = Vector512.Load(x2 + k + 16);
            var e3x = Vector512.Load(x3 + k); var o3x = Vector512.Load(x3 + k + 16);
            var v0 = Vector512.Load((uint*)(w0 + k));
            var e0 = (v0 << 16).AsSingle(); var o0 = (v0 & high).AsSingle();
            a0 = Avx512F.FusedMultiplyAdd(e0, e0x, a0); a0 = Avx512F.FusedMultiplyAdd(o0, o0x, a0);
            a1 = Avx512F.FusedMultiplyAdd(e0, e1x, a1); a1 = Avx512F.FusedMultiplyAdd(o0, o1x, a1);
            a2 = Avx512F.FusedMultiplyAdd(e0, e2x, a2); a2 = Avx512F.FusedMultiplyAdd(o0, o2x, a2);
            a3 = Avx512F.FusedMultiplyAdd(e0, e3x, a3); a3 = Avx512F.FusedMultiplyAdd(o0, o3x, a3);
            var v1 = Vector512.Load((uint*)(w1 + k));
            var e1 = (v1 << 16).AsSingle(); var o1 = (v1 & high).AsSingle();
            b0 = Avx512F.FusedMultiplyAdd(e1, e0x, b0); b0 = Avx512F.FusedMultiplyAdd(o1, o0x, b0);
            b1 = Avx512F.FusedMultiplyAdd(e1, e1x, b1); b1 = Avx512F.FusedMultiplyAdd(o1, o1x, b1);
            b2 = Avx512F.FusedMultiplyAdd(e1, e2x, b2); b2 = Avx512F.FusedMultiplyAdd(o1, o2x, b2);
            b3 = Avx512F.FusedMultiplyAdd(e1, e3x, b3); b3 = Avx512F.FusedMultiplyAdd(o1, o3x, b3);
            var v2 = Vector512.Load((uint*)(w2 + k));
            var e2 = (v2 << 16).AsSingle(); var o2 = (v2 & high).AsSingle();
            c0 = Avx512F.FusedMultiplyAdd(e2, e0x, c0); c0 = Avx512F.FusedMultiplyAdd(o2, o0x, c0);
            c1 = Avx512F.FusedMultiplyAdd(e2, e1x, c1); c1 = Avx512F.FusedMultiplyAdd(o2, o1x, c1);
            c2 = Avx512F.FusedMultiplyAdd(e2, e2x, c2); c2 = Avx512F.FusedMultiplyAdd(o2, o2x, c2);
            c3 = Avx512F.FusedMultiplyAdd(e2, e3x, c3); c3 = Avx512F.FusedMultiplyAdd(o2, o3x, c3);
            var v3 = Vector512.Load((uint*)(w3 + k));
            var e3 = (v3 << 16).AsSingle(); var o3 = (v3 & high).AsSingle();
            d0 = Avx512F.FusedMultiplyAdd(e3, e0x, d0); d0 = Avx512F.FusedMultiplyAdd(o3, o0x, d0);
            d1 = Avx512F.FusedMultiplyAdd(e3, e1x, d1); d1 = Avx512F.FusedMultiplyAdd(o3, o1x, d1);
            d2 = Avx512F.FusedMultiplyAdd(e3, e2x, d2); d2 = Avx512F.FusedMultiplyAdd(o3, o2x, d2);
            d3 = Avx512F.FusedMultiplyAdd(e3, e3x, d3); d3 = Avx512F.FusedMultiplyAdd(o3, o3x, d3);
        }
        Store(ref job, Vector128.Create(Vector512.Sum(a0), Vector512.Sum(b0), Vector512.Sum(c0), Vector512.Sum(d0)), i + 0, r, rows);
        Store(ref job, Vector128.Create(Vector512.Sum(a1), Vector512.Sum(b1), Vector512.Sum(c1), Vector512.Sum(d1)), i + 1, r, rows);
        Store(ref job, Vector128.Create(Vector512.Sum(a2), Vector512.Sum(b2), Vector512.Sum(c2), Vector512.Sum(d2)), i + 2, r, rows);
        Store(ref job, Vector128.Create(Vector512.Sum(a3), Vector512.Sum(b3), Vector512.Sum(c3), Vector512.Sum(d3)), i + 3, r, rows);
    }

    // Dot4Bf16 for two inputs at once: the four rows are loaded and widened once per step for both (16 accumulators,
    // even and odd halves per row and input; 16 + 8 widened weights + 4 inputs fit the 32 registers).
    private static (Vector128<float>, Vector128<float>) Dot4x2Bf16(ushort* w0, ushort* w1, ushort* w2, ushort* w3, float* x, float* y, int inF)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        for (int k = 0; k < inF; k += Block)
        {
            var xe = Vector512.Load(x + k);
            var xo = Vector512.Load(x + k + 16);
            var ye = Vector512.Load(y + k);
            var yo = Vector512.Load(y + k + 16);
            var v0 = Vector512.Load((uint*)(w0 + k));
            var v1 = Vector512.Load((uint*)(w1 + k));
            var v2 = Vector512.Load((uint*)(w2 + k));
            var v3 = Vector512.Load((uint*)(w3 + k));
            var e0 = (v0 << 16).AsSingle(); var o0 = (v0 & high).AsSingle();
            var e1 = (v1 << 16).AsSingle(); var o1 = (v1 & high).AsSingle();
            var e2 = (v2 << 16).AsSingle(); var o2 = (v2 & high).AsSingle();
            var e3 = (v3 << 16).AsSingle(); var o3 = (v3 & high).AsSingle();
            a0 = Avx512F.FusedMultiplyAdd(e0, xe, a0); b0 = Avx512F.FusedMultiplyAdd(o0, xo, b0);
            a1 = Avx512F.FusedMultiplyAdd(e1, xe, a1); b1 = Avx512F.FusedMultiplyAdd(o1, xo, b1);
            a2 = Avx512F.FusedMultiplyAdd(e2, xe, a2); b2 = Avx512F.FusedMultiplyAdd(o2, xo, b2);
            a3 = Avx512F.FusedMultiplyAdd(e3, xe, a3); b3 = Avx512F.FusedMultiplyAdd(o3, xo, b3);
            c0 = Avx512F.FusedMultiplyAdd(e0, ye, c0); d0 = Avx512F.FusedMultiplyAdd(o0, yo, d0);
            c1 = Avx512F.FusedMultiplyAdd(e1, ye, c1); d1 = Avx512F.FusedMultiplyAdd(o1, yo, d1);
            c2 = Avx512F.FusedMultiplyAdd(e2, ye, c2); d2 = Avx512F.FusedMultiplyAdd(o2, yo, d2);
            c3 = Avx512F.FusedMultiplyAdd(e3, ye, c3); d3 = Avx512F.FusedMultiplyAdd(o3, yo, d3);
        }
        return (Vector128.Create(Vector512.Sum(a0 + b0), Vector512.Sum(a1 + b1), Vector512.Sum(a2 + b2), Vector512.Sum(a3 + b3)),
                Vector128.Create(Vector512.Sum(c0 + d0), Vector512.Sum(c1 + d1), Vector512.Sum(c2 + d2), Vector512.Sum(c3 + d3)));
    }

    // Dot4F32 for two inputs at once: each weight load serves both.
    private static (Vector128<float>, Vector128<float>) Dot4x2F32(float* w0, float* w1, float* w2, float* w3, float* x, float* y, int inF)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        for (int k = 0; k < inF; k += Block)
        {
            var xa = Vector512.Load(x + k);
            var xb = Vector512.Load(x + k + 16);
            var ya = Vector512.Load(y + k);
            var yb = Vector512.Load(y + k + 16);
            var p0 = Vector512.Load(w0 + k); var q0 = Vector512.Load(w0 + k + 16);
            var p1 = Vector512.Load(w1 + k); var q1 = Vector512.Load(w1 + k + 16);
            var p2 = Vector512.Load(w2 + k); var q2 = Vector512.Load(w2 + k + 16);
            var p3 = Vector512.Load(w3 + k); var q3 = Vector512.Load(w3 + k + 16);
            a0 = Avx512F.FusedMultiplyAdd(p0, xa, a0); b0 = Avx512F.FusedMultiplyAdd(q0, xb, b0);
            a1 = Avx512F.FusedMultiplyAdd(p1, xa, a1); b1 = Avx512F.FusedMultiplyAdd(q1, xb, b1);
            a2 = Avx512F.FusedMultiplyAdd(p2, xa, a2); b2 = Avx512F.FusedMultiplyAdd(q2, xb, b2);
            a3 = Avx512F.FusedMultiplyAdd(p3, xa, a3); b3 = Avx512F.FusedMultiplyAdd(q3, xb, b3);
            c0 = Avx512F.FusedMultiplyAdd(p0, ya, c0); d0 = Avx512F.FusedMultiplyAdd(q0, yb, d0);
            c1 = Avx512F.FusedMultiplyAdd(p1, ya, c1); d1 = Avx512F.FusedMultiplyAdd(q1, yb, d1);
            c2 = Avx512F.FusedMultiplyAdd(p2, ya, c2); d2 = Avx512F.FusedMultiplyAdd(q2, yb, d2);
            c3 = Avx512F.FusedMultiplyAdd(p3, ya, c3); d3 = Avx512F.FusedMultiplyAdd(q3, yb, d3);
        }
        return (Vector128.Create(Vector512.Sum(a0 + b0), Vector512.Sum(a1 + b1), Vector512.Sum(a2 + b2), Vector512.Sum(a3 + b3)),
                Vector128.Create(Vector512.Sum(c0 + d0), Vector512.Sum(c1 + d1), Vector512.Sum(c2 + d2), Vector512.Sum(c3 + d3)));
    }

    // Four dot products of bf16 rows with the widened x. Each 32-bit lane of a weight load holds inputs 2j (low half)
    // and 2j + 1 (high half): shifting left by 16 or masking the low half off gives both as fp32 exactly. Eight
    // independent accumulators keep the FMA units busy while the loads stream.
    private static Vector128<float> Dot4Bf16(ushort* w0, ushort* w1, ushort* w2, ushort* w3, float* x, int inF)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        for (int k = 0; k < inF; k += Block)
        {
            var even = Vector512.Load(x + k);
            var odd = Vector512.Load(x + k + 16);
            var v0 = Vector512.Load((uint*)(w0 + k));
            var v1 = Vector512.Load((uint*)(w1 + k));
            var v2 = Vector512.Load((uint*)(w2 + k));
            var v3 = Vector512.Load((uint*)(w3 + k));
            a0 = Avx512F.FusedMultiplyAdd((v0 << 16).AsSingle(), even, a0);
            b0 = Avx512F.FusedMultiplyAdd((v0 & high).AsSingle(), odd, b0);
            a1 = Avx512F.FusedMultiplyAdd((v1 << 16).AsSingle(), even, a1);
            b1 = Avx512F.FusedMultiplyAdd((v1 & high).AsSingle(), odd, b1);
            a2 = Avx512F.FusedMultiplyAdd((v2 << 16).AsSingle(), even, a2);
            b2 = Avx512F.FusedMultiplyAdd((v2 & high).AsSingle(), odd, b2);
            a3 = Avx512F.FusedMultiplyAdd((v3 << 16).AsSingle(), even, a3);
            b3 = Avx512F.FusedMultiplyAdd((v3 & high).AsSingle(), odd, b3);
        }
        return Vector128.Create(Vector512.Sum(a0 + b0), Vector512.Sum(a1 + b1), Vector512.Sum(a2 + b2), Vector512.Sum(a3 + b3));
    }

    // Four dot products of fp32 rows with x, two loads per row and step (the same 64 bytes per row as bf16's one).
    private static Vector128<float> Dot4F32(float* w0, float* w1, float* w2, float* w3, float* x, int inF)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        for (int k = 0; k < inF; k += Block)
        {
            var xa = Vector512.Load(x + k);
            var xb = Vector512.Load(x + k + 16);
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w0 + k), xa, a0);
            b0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w0 + k + 16), xb, b0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(w1 + k), xa, a1);
            b1 = Avx512F.FusedMultiplyAdd(Vector512.Load(w1 + k + 16), xb, b1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(w2 + k), xa, a2);
            b2 = Avx512F.FusedMultiplyAdd(Vector512.Load(w2 + k + 16), xb, b2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(w3 + k), xa, a3);
            b3 = Avx512F.FusedMultiplyAdd(Vector512.Load(w3 + k + 16), xb, b3);
        }
        return Vector128.Create(Vector512.Sum(a0 + b0), Vector512.Sum(a1 + b1), Vector512.Sum(a2 + b2), Vector512.Sum(a3 + b3));
    }

    // bf16 → fp32 into the even/odd layout Dot4Bf16 reads (count a multiple of 32).
    private static void Widen(ushort* src, float* dst, int count)
    {
        var high = Vector512.Create(0xFFFF0000u);
        for (int k = 0; k < count; k += Block)
        {
            var v = Vector512.Load((uint*)(src + k));
            (v << 16).AsSingle().Store(dst + k);
            (v & high).AsSingle().Store(dst + k + 16);
        }
    }

    // fp32 → bf16, round to nearest even (NaN stays a quiet NaN), as c10::BFloat16 rounds.
    private static ushort ToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return 0x7FC0;
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    private static float* Align(float* p) => (float*)(((nint)p + 63) & ~(nint)63);
}
