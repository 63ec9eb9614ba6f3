using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Tests.Kernels;

/// <summary>
/// The types SinkLab reads but did not write before (2/3-bit K-quants, i-quants, ternary, MXFP4): each SIMD kernel
/// against the scalar reference (<see cref="QuantDot.DotScalar"/>: ggml's dequantization formulas, then a double
/// product) on 0, 1 and odd numbers of blocks of random valid blocks, the tile kernels against four single products,
/// hand-built blocks against the formulas written out, and the embedded lattice tables against ggml's definition.
/// .ci/run repeats this category with AVX-512/VNNI and with AVX2 switched off.
/// </summary>
[Trait("Category", "Kernels")]
public class LowBitKernelTests
{
    public static TheoryData<GgmlType> Types() =>
    [
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.IQ3_XXS, GgmlType.IQ3_S, GgmlType.IQ2_XXS,
        GgmlType.IQ2_XS, GgmlType.IQ2_S, GgmlType.IQ1_S, GgmlType.IQ1_M, GgmlType.TQ1_0, GgmlType.TQ2_0, GgmlType.MXFP4,
    ];

    private static void SetHalf(byte[] b, int at, float v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), BitConverter.HalfToUInt16Bits((Half)v));

    /// <summary>Random bytes with every scale field set to a finite value of varying size and sign.</summary>
    internal static byte[] RandomBlocks(GgmlType type, int blocks, int seed)
    {
        GgmlTypeInfo.TryGetBlock(type, out _, out int size);
        var r = new Random(seed);
        var bytes = new byte[blocks * size];
        r.NextBytes(bytes);
        for (int i = 0; i < blocks; i++)
        {
            int o = i * size;
            float d = (float)(r.NextDouble() * 0.02 + 0.001) * (r.Next(2) == 0 ? 1 : -1);
            switch (type)
            {
                case GgmlType.Q2_K: SetHalf(bytes, o + 80, Math.Abs(d)); SetHalf(bytes, o + 82, Math.Abs(d) / 2); break;
                case GgmlType.Q3_K: SetHalf(bytes, o + 108, d); break;
                case GgmlType.TQ1_0: SetHalf(bytes, o + 52, d); break;
                case GgmlType.TQ2_0: SetHalf(bytes, o + 64, d); break;
                case GgmlType.MXFP4: bytes[o] = (byte)r.Next(118, 130); break;
                case GgmlType.IQ1_M:
                    // d = 2^-7 spread over the top nibbles of the four scale words (0x2000: nibbles 0, 0, 0, 2)
                    for (int w = 0; w < 4; w++) bytes[o + 48 + 2 * w + 1] = (byte)((bytes[o + 48 + 2 * w + 1] & 0x0F) | (w == 3 ? 0x20 : 0));
                    break;
                default: SetHalf(bytes, o, d); break;
            }
        }
        return bytes;
    }

    private static float[] Random(int n, int seed) => QuantDotTests.Random(n, seed);

    [Theory]
    [MemberData(nameof(Types))]
    public void SimdKernelEqualsScalarReferenceOnEveryLength(GgmlType type)
    {
        GgmlTypeInfo.TryGetBlock(type, out int per, out _);
        foreach (int blocks in new[] { 0, 1, 3, 7, 33 })
        {
            int n = blocks * per;
            byte[] row = RandomBlocks(type, blocks, 1 + blocks);
            float[] x = Random(n, 100 + blocks);
            float scalar = QuantDot.DotScalar(type, row, x), simd = QuantDot.Dot(type, row, x);
            double norm = 0;
            var w = new float[n];
            Quantizer.Dequantize(type, row, w);
            for (int i = 0; i < n; i++) norm += Math.Abs((double)w[i] * x[i]);
            Assert.True(Math.Abs(scalar - simd) <= 1e-5 * Math.Max(1e-3, norm), $"{type} × {blocks}: {simd} vs {scalar} (Σ|w·x| {norm})");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void TileKernelEqualsFourSingleTokenProducts(GgmlType type)
    {
        GgmlTypeInfo.TryGetBlock(type, out int per, out _);
        int n = 3 * Math.Max(per, 256);
        QuantDotTests.AssertTileEqualsSingles(type, RandomBlocks(type, n / per, 31), n);
    }

    [Fact]
    public void LatticeTablesAreGgmls()
    {
        // SHA-256 of each table as ggml-common.h defines it (tools/ggml-tables.py prints these from the header).
        (byte[] Bytes, string Sha)[] tables =
        [
            (AsBytes(IQuantTables.Iq2Xxs), "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54"),
            (AsBytes(IQuantTables.Iq2Xs), "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de"),
            (AsBytes(IQuantTables.Iq2S), "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88"),
            (AsBytes(IQuantTables.Iq3Xxs), "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d"),
            (AsBytes(IQuantTables.Iq3S), "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f"),
            (AsBytes(IQuantTables.Iq1S), "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a"),
            (IQuantTables.KSigns, "a76742a603f8beca5212ecce0f1f02f11a4887fd2f7c8b15aca0ea3eb3380c31"),
            (AsBytes(IQuantTables.Iq4Values), "61aa47540aa024b5d6ddaa839b84ffe59f3d5a349af5c6c7ffcb5e0474b46163"),
            (AsBytes(IQuantTables.Fp4Values), "adf76b672d47eb7fc0afd4db132d548d59d3190aa0ad118fdbf569d5fd478f97"),
        ];
        foreach ((byte[] bytes, string sha) in tables) Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        // Facts of the tables that do not need the header: the sign table makes an even number of minus signs, the
        // IQ1 grid holds only −1, 0, 1, the 2-bit grids only ggml's three magnitudes.
        for (int i = 0; i < 128; i++) Assert.Equal(0, System.Numerics.BitOperations.PopCount(IQuantTables.KSigns[i]) % 2);
        Assert.All(AsBytes(IQuantTables.Iq1S), b => Assert.Contains((sbyte)b, new sbyte[] { -1, 0, 1 }));
        Assert.All(AsBytes(IQuantTables.Iq2Xxs), b => Assert.Contains(b, new byte[] { 8, 25, 43 }));
        Assert.Equal(IQuantTables.Iq4Values, Enumerable.Range(0, 16).Select(i => SuperBlockKernels.Iq4Values().GetElement(i)).ToArray());
        Assert.Equal(IQuantTables.Fp4Values, new sbyte[] { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 });   // Mxfp4Reader's constant
        Assert.Equal(0.5f, IQuantTables.E8M0Half(127));
        Assert.Equal(MathF.Pow(2, -128), IQuantTables.E8M0Half(0));
    }

    private static byte[] AsBytes<T>(T[] a) where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()).ToArray();

    [Fact]
    public void HandBuiltQ2KAndQ3KBlocksDecodeByTheFormula()
    {
        var q2 = new byte[84];
        q2[0] = 0x35;                       // weights 0-15: scale 5, min 3
        q2[16] = 0b_10_01_11_10;            // byte 0: weight 0 = 2, weight 32 = 3, weight 64 = 1, weight 96 = 2
        SetHalf(q2, 80, 0.5f); SetHalf(q2, 82, 0.25f);
        var y = new float[256];
        LowBitQuants.DequantizeQ2K(q2, y);
        Assert.Equal(0.5f * 5 * 2 - 0.25f * 3, y[0]);
        Assert.Equal(-0.25f * 3, y[1]);
        Assert.Equal(0f, y[32]);            // scale byte 2 is zero
        var q3 = new byte[110];
        q3[0] = 0b0000_0001;                // high bit of weight 0 set; weight 32's (bit 1) clear
        q3[32] = 0b_00_00_01_11;            // weight 0 low bits 3, weight 32 low bits 1
        q3[96] = 0x25; q3[104] = 0x02;      // scale 0 = 5 | (2 << 4) = 37; scale 8 = 2 | (0 << 4)
        SetHalf(q3, 108, 0.5f);
        LowBitQuants.DequantizeQ3K(q3, y);
        Assert.Equal(0.5f * (37 - 32) * 3, y[0]);
        Assert.Equal(0.5f * (q3Scale(q3, 2) - 32) * (1 - 4), y[32]);
        static int q3Scale(byte[] b, int j) { Span<int> s = stackalloc int[16]; LowBitQuants.Q3Scales(b.AsSpan(96, 12), s); return s[j]; }
    }

    [Fact]
    public void HandBuiltIQuantBlocksDecodeByTheFormula()
    {
        var y = new float[256];
        // IQ4_XS: sub-block 1 has low scale nibble 3 and high bits 2 → ls = 35; weight 32 is value index 15 (113).
        var x4 = new byte[136];
        SetHalf(x4, 0, 0.5f);
        x4[2] = 0b_1000;                    // scales_h bits 2-3 (sub-block 1) = 2
        x4[4] = 0x30;                       // scales_l: sub-block 1 in the high nibble
        x4[8 + 16] = 0x0F;
        LowBitQuants.DequantizeIq4Xs(x4, y);
        Assert.Equal(0.5f * (35 - 32) * 113, y[32]);
        Assert.Equal(0.5f * (35 - 32) * -127, y[48]);   // high nibble 0 → −127
        // IQ2_XXS: grid point 0 is all 8s; scale nibble 3 → d·3.5/4; sign pattern 1 flips weight 0 (and 7: even parity).
        var x2 = new byte[66];
        SetHalf(x2, 0, 1f);
        BinaryPrimitives.WriteUInt32LittleEndian(x2.AsSpan(6), (3u << 28) | 1u);
        IQuants.DequantizeIq2Xxs(x2, y);
        Assert.Equal(-3.5f / 4 * 8, y[0]);
        Assert.Equal(3.5f / 4 * 8, y[1]);
        Assert.Equal(-3.5f / 4 * 8, y[7]);
        // IQ1_S: point 0 with scale 2 → d·5·(grid ± 1/8), shift negative.
        var x1 = new byte[50];
        SetHalf(x1, 0, 1f);
        BinaryPrimitives.WriteUInt16LittleEndian(x1.AsSpan(34), (ushort)(0x8000 | (2 << 12)));
        IQuants.DequantizeIq1S(x1, y);
        Assert.Equal(5 * ((sbyte)(IQuantTables.Iq1S[0] & 0xFF) - 0.125f), y[0]);
        // TQ2_0: byte 0 = 0b_00_01_10_10 → weights 0, 32, 64, 96 = 1, 1, 0, −1 (times d).
        var t2 = new byte[66];
        t2[0] = 0b_00_01_10_10;
        SetHalf(t2, 64, 2f);
        LowBitQuants.DequantizeTq2(t2, y);
        Assert.Equal([2f, 2f, 0f, -2f], new[] { y[0], y[32], y[64], y[96] });
        // TQ1_0: digits (1, 2, 0, 1, 2) packed as ggml does, ⌈(1·81 + 2·27 + 0·9 + 1·3 + 2)·256/243⌉ = 148, read back
        // most significant first by the fixed-point product: weights 0, 32, 64, 96, 128 = d·(digit − 1).
        var t1 = new byte[54];
        t1[0] = 148;
        SetHalf(t1, 52, 1f);
        LowBitQuants.DequantizeTq1(t1, y);
        Assert.Equal([0f, 1f, -1f, 0f, 1f], new[] { y[0], y[32], y[64], y[96], y[128] });
        // MXFP4: exponent 127 → 2⁰; nibble 7 is E2M1 6 (stored doubled, 12, against the halved scale), nibble 0xF −6.
        var m = new byte[17];
        m[0] = 127; m[1] = 0xF7;
        LowBitQuants.DequantizeMxfp4(m, y.AsSpan(0, 32));
        Assert.Equal(6f, y[0]);
        Assert.Equal(-6f, y[16]);
    }
}
