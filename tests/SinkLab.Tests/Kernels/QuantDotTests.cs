using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Tests.Kernels;

/// <summary>Every quantized type's integer kernel against its scalar reference, its block struct against ggml's size,
/// and hand-built blocks of the types with a fifth bit or a min against ggml's decoding formulas. .ci/run repeats the
/// Kernels category with AVX-512, AVX-VNNI and AVX2 switched off, so every path of <see cref="Int8Dot"/> runs.</summary>
[Trait("Category", "Kernels")]
public class QuantDotTests
{
    public static TheoryData<GgmlType> Types() =>
        [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    internal static float[] Random(int n, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * (1 + i / 300);   // blocks of growing range
        return a;
    }

    [Fact]
    public void BlockStructsHaveGgmlSizes()
    {
        foreach ((GgmlType t, int size) in new[] { (GgmlType.Q4_1, Unsafe.SizeOf<BlockQ4_1>()), (GgmlType.Q5_0, Unsafe.SizeOf<BlockQ5_0>()),
                     (GgmlType.Q5_1, Unsafe.SizeOf<BlockQ5_1>()), (GgmlType.Q4_K, Unsafe.SizeOf<BlockQ4_K>()),
                     (GgmlType.Q5_K, Unsafe.SizeOf<BlockQ5_K>()), (GgmlType.Q6_K, Unsafe.SizeOf<BlockQ6_K>()),
                     (GgmlType.Q8_0, Unsafe.SizeOf<BlockQ8_0>()), (GgmlType.Q4_0, Unsafe.SizeOf<BlockQ4_0>()) })
        {
            Assert.True(GgmlTypeInfo.TryGetBlock(t, out _, out int bytes));
            Assert.Equal(bytes, size);
        }
        Assert.Equal(44, Unsafe.SizeOf<ActivationBlock>());
        Assert.Equal(356, Unsafe.SizeOf<ActivationSuperBlock>());   // ggml's Q8_K (292) plus per-16 sums as int32
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void SimdKernelEqualsScalarReferenceOnEveryLength(GgmlType type)
    {
        GgmlTypeInfo.TryGetBlock(type, out int per, out _);
        foreach (int blocks in new[] { 0, 1, 2, 3, 7, 24, 33, 88 })
        {
            int n = blocks * per;
            float[] w = Random(n, 1 + blocks), x = Random(n, 100 + blocks);
            if (n > 0) { w[0] = -3; w[n - 1] = 3; x[0] = -3; }   // extremes: a −128-free activation, full-range weights
            byte[] row = Quantizer.Quantize(type, w);
            float scalar = QuantDot.DotScalar(type, row, x), simd = QuantDot.Dot(type, row, x);
            Assert.True(Math.Abs(scalar - simd) <= 2e-5 * Math.Max(1, Math.Sqrt(n)) * Math.Max(1, Math.Abs(scalar)), $"{type} × {blocks}: {simd} vs {scalar}");
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void TileKernelEqualsFourSingleTokenProducts(GgmlType type) => AssertTileEqualsSingles(type, Quantizer.Quantize(type, Random(768, 31)), 768);

    /// <summary>The type's tile kernel on one encoded row of n weights against four tokens, each result equal to the
    /// single-token kernel's up to float summation order.</summary>
    internal static unsafe void AssertTileEqualsSingles(GgmlType type, byte[] row, int n)
    {
        float[][] xs = Enumerable.Range(0, 4).Select(k => Random(n, 40 + k)).ToArray();
        var got = new float[4];
        fixed (byte* w = row)
        fixed (float* o = got)
        {
            if (QuantDot.UsesSuperBlocks(type))
            {
                ActivationSuperBlock[] x = xs.SelectMany(v => QuantDot.SuperBlocks(v)).ToArray();
                fixed (ActivationSuperBlock* px = x) QuantTile.ForSuperBlocks(type)(w, px, n / 256, n / 256, o);
            }
            else
            {
                ActivationBlock[] x = xs.SelectMany(v => QuantDot.Blocks(v)).ToArray();
                fixed (ActivationBlock* px = x) QuantTile.For(type)(w, px, n / 32, n / 32, o);
            }
        }
        for (int k = 0; k < 4; k++)
        {
            float one = QuantDot.Dot(type, row, xs[k]);
            Assert.Equal(one, got[k], 1e-5f * Math.Max(1, Math.Abs(one)));
        }
    }

    [Fact]
    public void Q6KNegativeAndExtremeScalesMatchScalar()
    {
        // ggml's own Q6_K quantizer writes negative scales; ours never does, so flip some by hand (and use −128).
        float[] w = Random(768, 21), x = Random(768, 22);
        byte[] row = Quantizer.Quantize(GgmlType.Q6_K, w);
        for (int sb = 0; sb < 3; sb++)
        {
            row[sb * KQuants.Q6KBytes + 192 + 3] = unchecked((byte)(sbyte)-(sbyte)row[sb * KQuants.Q6KBytes + 192 + 3]);
            row[sb * KQuants.Q6KBytes + 192 + 12] = 0x80;   // −128
        }
        float scalar = QuantDot.DotScalar(GgmlType.Q6_K, row, x);
        Assert.Equal(scalar, QuantDot.Dot(GgmlType.Q6_K, row, x), 2e-5f * Math.Max(1, Math.Abs(scalar)) * 28);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    public void KQuantsAtTheirLargestValuesMatchScalar(GgmlType type)
    {
        // Every quant, scale and min at its maximum (15 or 31, 63, 63) against activations of ±127: the largest
        // sub-block dots the int16 packing of the VNNI path (Dot8Pairs) must hold exactly.
        int n = 768;
        GgmlTypeInfo.TryGetBlock(type, out _, out int bytes);
        byte[] row = new byte[n / 256 * bytes];
        for (int sb = 0; sb < n / 256; sb++)
        {
            Span<byte> b = row.AsSpan(sb * bytes, bytes);
            b.Fill(0xFF);
            BitConverter.TryWriteBytes(b, (Half)0.001f);
            BitConverter.TryWriteBytes(b[2..], (Half)0.0005f);
        }
        float[] x = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? -1f : 1f).ToArray();
        float scalar = QuantDot.DotScalar(type, row, x);
        Assert.Equal(scalar, QuantDot.Dot(type, row, x), 1e-5f * Math.Abs(scalar));
        AssertTileEqualsSingles(type, row, n);
        float[] same = Enumerable.Repeat(1f, n).ToArray();
        float all = QuantDot.DotScalar(type, row, same);
        Assert.Equal(all, QuantDot.Dot(type, row, same), 1e-5f * Math.Abs(all));
    }

    [Fact]
    public void Q8_0WeightsOfMinus128AreMultipliedExactly()
    {
        // Files may hold −128 (ggml's own quantizer never writes it); the sign trick must not flip it.
        var w = new BlockQ8_0[2];
        w[0].D = (Half)0.5f; w[1].D = (Half)0.25f;
        for (int j = 0; j < 32; j++) { w[0].Qs[j] = -128; w[1].Qs[j] = (sbyte)(j * 8 - 128); }
        float[] x = Random(64, 3);
        ActivationBlock[] a = QuantDot.Blocks(x);
        byte[] row = MemoryMarshal.AsBytes(w.AsSpan()).ToArray();
        Assert.Equal(QuantDot.DotScalar(GgmlType.Q8_0, row, x), QuantDot.Dot(GgmlType.Q8_0, row, a), 1e-4f);
        AssertTileEqualsSingles(GgmlType.Q8_0, row, 64);   // the tile's +128 offset form must hold −128 too
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void QuantizedProductIsCloseToTheFloatProduct(GgmlType type)
    {
        // The whole path — our quantizer, 8-bit activations, integer kernel — against the float dot product.
        float[] w = Random(4096, 7), x = Random(4096, 8);
        double exact = 0, norm = 0;
        for (int i = 0; i < w.Length; i++) { exact += (double)w[i] * x[i]; norm += Math.Abs((double)w[i] * x[i]); }
        float got = QuantDot.Dot(type, Quantizer.Quantize(type, w), x);
        double tolerance = type is GgmlType.Q8_0 or GgmlType.Q6_K ? 0.01 : 0.04;
        Assert.InRange(Math.Abs(got - exact) / norm, 0, tolerance);
    }

    [Fact]
    public void HandBuiltQ5_0AndQ5_1BlocksDecodeByTheFormula()
    {
        var q50 = new BlockQ5_0 { D = (Half)0.5f, Qh = 0x8000_0001 };   // fifth bit on elements 0 and 31
        var q51 = new BlockQ5_1 { D = (Half)0.25f, M = (Half)(-1f), Qh = 0x0001_0002 }; // on elements 1 and 16
        for (int j = 0; j < 16; j++) { q50.Qs[j] = (byte)(j | ((15 - j) << 4)); q51.Qs[j] = q50.Qs[j]; }
        var y = new float[32];
        LegacyQuants.Dequantize([q50], y);
        Assert.Equal(0.5f * (0 + 16 - 16), y[0]);        // nibble 0, fifth bit → 16, minus 16
        Assert.Equal(0.5f * (3 - 16), y[3]);
        Assert.Equal(0.5f * (15 - 16), y[16]);           // high nibble of byte 0
        Assert.Equal(0.5f * (0 + 16 - 16), y[31]);       // high nibble of byte 15 is 0, fifth bit set
        LegacyQuants.Dequantize([q51], y);
        Assert.Equal(0.25f * (1 + 16) - 1, y[1]);
        Assert.Equal(0.25f * (15 + 16) - 1, y[16]);
        Assert.Equal(0.25f * 2 - 1, y[2]);
    }

    [Fact]
    public void HandBuiltQ4_1BlockDecodesByTheFormula()
    {
        var b = new BlockQ4_1 { D = (Half)0.5f, M = (Half)2f };
        b.Qs[0] = 0x3A;   // element 0 = 10, element 16 = 3
        var y = new float[32];
        LegacyQuants.Dequantize([b], y);
        Assert.Equal(0.5f * 10 + 2, y[0]);
        Assert.Equal(0.5f * 3 + 2, y[16]);
        Assert.Equal(2f, y[1]);
    }

    [Fact]
    public void HandBuiltQ5KBlockDecodesByTheFormula()
    {
        var blk = new byte[KQuants.Q5KBytes];
        BitConverter.TryWriteBytes(blk.AsSpan(0), BitConverter.HalfToUInt16Bits((Half)0.5f));    // d
        BitConverter.TryWriteBytes(blk.AsSpan(2), BitConverter.HalfToUInt16Bits((Half)0.25f));   // dmin
        blk[4 + 1] = 3;       // scale of sub-block 1 = 3
        blk[4 + 5] = 2;       // min of sub-block 1 = 2
        blk[4 + 8 + 1] = 0x47;   // sub-block 5: scale low bits 7, min low bits 4
        blk[16 + 4] = 0b0010_0010;   // qh[4]: fifth bit of element 4 in sub-blocks 1 and 5
        blk[48 + 4] = 0x90;   // qs[4]: element 4 of sub-block 0 = 0, of sub-block 1 = 9
        blk[48 + 64 + 4] = 0x60;   // qs[68]: element 4 of sub-block 5 (high nibbles of the third 32-byte group) = 6
        var y = new float[256];
        KQuants.DequantizeQ5K(blk, y);
        Assert.Equal(0.5f * 3 * (9 + 16) - 0.25f * 2, y[32 + 4]);
        Assert.Equal(0.5f * 7 * (6 + 16) - 0.25f * 4, y[160 + 4]);
        Assert.Equal(0f, y[4]);
    }

    [Fact]
    public void HalfToFloatIsExactForEveryHalf()
    {
        for (int h = 0; h < 65536; h++)
        {
            float want = (float)BitConverter.UInt16BitsToHalf((ushort)h), got = Fp16.ToFloat((ushort)h);
            if (float.IsNaN(want)) Assert.True(float.IsNaN(got));
            else Assert.Equal(BitConverter.SingleToUInt32Bits(want), BitConverter.SingleToUInt32Bits(got));
        }
    }

    [Fact]
    public void MatMulProbeRunsEveryTypeOnOneAndTwoThreadsWhileTheGcRuns()
    {
        // The probe's arrays must stay alive and in place while the products read them (it once took raw addresses of
        // arrays the GC could collect: a segfault on the second pool). Collections are forced between calls.
        foreach (GgmlType type in new[] { GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K })
            foreach (int threads in new[] { 1, 2 })
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                double g = MatMulProbe.Gflops(type, 512, 512, 4, threads, reps: 20);
                Assert.True(double.IsFinite(g) && g > 0, $"{type} × {threads}: {g}");
            }
    }

    /// <summary>ggml's <c>nearest_int</c>: the magic-number round (to nearest, ties to even).</summary>
    private static int NearestInt(float f)
    {
        float v = f + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007fffff) - 0x00400000;
    }

    [Fact]
    public void VectorRoundingEqualsGgmlNearestInt()
    {
        // Midpoints (k + 0.5), their neighbours one ulp away, and random values, both signs.
        var x = new List<float>();
        for (int k = -127; k < 127; k++) { float m = k + 0.5f; x.AddRange([m, MathF.BitDecrement(m), MathF.BitIncrement(m)]); }
        var r = new Random(3);
        while (x.Count % 32 != 0 || x.Count < 2048) x.Add((float)(r.NextDouble() * 254 - 127));
        var q = new sbyte[32];
        for (int b = 0; b < x.Count / 32; b++)
        {
            float[] xs = x.GetRange(32 * b, 32).ToArray();
            (int lo, int hi) = ActivationBlock.Round32(xs, 1f, q);
            int want0 = 0, want1 = 0;
            for (int j = 0; j < 32; j++)
            {
                int want = NearestInt(xs[j]);
                Assert.Equal(want, q[j]);
                if (j < 16) want0 += want; else want1 += want;
            }
            Assert.Equal((want0, want1), (lo, hi));
        }
    }

    [Fact]
    public void SuperBlockActivationsAreGgmlQ8K()
    {
        // quantize_row_q8_K_ref: m = the value of largest magnitude, iscale = −127/m, q = nearest_int(iscale·x), d = 1/iscale.
        float[] x = Random(512, 12);
        x[300] = 5f; x[301] = -5f;   // a tie in magnitude: the first one (positive) sets the sign
        ActivationSuperBlock[] a = QuantDot.SuperBlocks(x);
        for (int b = 0; b < 2; b++)
        {
            float m = 0, amax = 0;
            for (int j = 0; j < 256; j++) if (MathF.Abs(x[256 * b + j]) > amax) { amax = MathF.Abs(x[256 * b + j]); m = x[256 * b + j]; }
            float iscale = -127f / m;
            Assert.Equal(1f / iscale, a[b].D);
            for (int j = 0; j < 256; j++) Assert.Equal(Math.Min(127, NearestInt(iscale * x[256 * b + j])), a[b].Qs[j]);
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int j = 0; j < 16; j++) sum += a[b].Qs[16 * g + j];
                Assert.Equal(sum, a[b].Sums16[g]);
            }
        }
        Assert.True(a[1].D < 0);
    }

    [Fact]
    public void ActivationBlocksKeepTheirSums()
    {
        float[] x = Random(96, 9);
        ActivationBlock[] a = QuantDot.Blocks(x);
        foreach (ActivationBlock b in a)
        {
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += b.Qs[j];
            Assert.Equal(sum, b.Sum);
            for (int j = 0; j < 32; j++) Assert.NotEqual(-128, b.Qs[j]);
        }
    }
}
