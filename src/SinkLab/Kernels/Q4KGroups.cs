using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>A repacked layout: elements per block, bytes per group of eight rows and block, and the packer
/// (source rows, bytes per source row, groups, blocks per row, destination).</summary>
internal readonly unsafe struct GroupLayout(int elements, int blockBytes, delegate*<byte*, int, int, int, byte*, void> pack)
{
    /// <summary>No repacked layout.</summary>
    public static GroupLayout None => default;
    public int Elements { get; } = elements;
    public int BlockBytes { get; } = blockBytes;
    public delegate*<byte*, int, int, int, byte*, void> Pack { get; } = pack;
    /// <summary>Whether the type has a layout here.</summary>
    public bool Exists => Elements > 0;
}

/// <summary>
/// Q4_K repacked at load into groups of eight rows, the layout llama.cpp's CPU backend also repacks Q4_K into
/// (<c>block_q4_Kx8</c>; the byte order here is SinkLab's own). In a 256-bit register each 32-bit lane belongs to one
/// row: one <c>vpdpbusd</c> multiplies four weights of each of the eight rows by the same four activations (broadcast),
/// so a sub-block's dot ends as eight rows' sums in one register, its eight scales are applied by one multiply-add,
/// and no horizontal sum is left at the end. The row-at-a-time kernels (<see cref="QuantTile.Q4_K"/>) instead spend
/// two operations per sub-block and token packing and scaling one row's sums: about half of their work
/// (docs/architecture.md, "Repacked Q4_K").
/// Per group and super-block, <see cref="BlockBytes"/> bytes: d[8] and dmin[8] as float32 (decoded once here, not
/// per token), the 6-bit scales sc[sub-block][row] and mins m[sub-block pair][row][2] as bytes, then for each
/// sub-block four 32-byte vectors whose lane r holds row r's elements 8j..8j+3 (low nibbles) and 8j+4..8j+7 (high).
/// Results equal the row kernels' up to float summation order (tested against the scalar reference).
/// </summary>
internal static unsafe class Q4KGroups
{
    /// <summary>Rows per group.</summary>
    public const int Rows = 8;
    /// <summary>Bytes per group and super-block (8 rows × 144 bytes in the file: 1,152).</summary>
    public const int BlockBytes = 1216;
    private const int DAt = 0, DMinAt = 32, ScAt = 64, MinAt = 128, QsAt = 192;

    /// <summary>The packed kernels need AVX2 (their lanes-as-rows products); elsewhere the row kernels run.</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether matrices are repacked: on where <see cref="Supported"/>, unless the environment variable
    /// <c>SINKLAB_REPACK=0</c> switches it off (to measure the row kernels against it in benchmarks). A copy already
    /// made is kept, unused while off.</summary>
    public static bool Enabled { get; set; } = Supported && Environment.GetEnvironmentVariable("SINKLAB_REPACK") != "0";

    /// <summary>How a matrix of <paramref name="type"/> is repacked here (Q4_K, Q6_K, and Q8_0 where
    /// <see cref="Q8Groups.Supported"/>), or <see cref="GroupLayout.None"/>: the one table the weights and the product
    /// both read.</summary>
    public static GroupLayout Layout(GgmlType type) => type switch
    {
        GgmlType.Q4_K => new GroupLayout(256, BlockBytes, &Pack),
        GgmlType.Q6_K => new GroupLayout(256, Q6KGroups.BlockBytes, &Q6KGroups.Pack),
        GgmlType.Q8_0 when Q8Groups.Supported => new GroupLayout(32, Q8Groups.BlockBytes, &Q8Groups.Pack),
        _ => GroupLayout.None,
    };

    /// <summary>Packs rows [8g, 8g + 8) of a Q4_K matrix (<paramref name="rowBytes"/> bytes per row,
    /// <paramref name="superBlocks"/> blocks each) for every whole group g into <paramref name="dst"/>
    /// (groups × superBlocks × <see cref="BlockBytes"/> bytes).</summary>
    public static void Pack(byte* src, int rowBytes, int groups, int superBlocks, byte* dst)
    {
        Span<byte> scales = stackalloc byte[12];
        for (int g = 0; g < groups; g++)
            for (int sb = 0; sb < superBlocks; sb++, dst += BlockBytes)
                for (int r = 0; r < Rows; r++)
                {
                    byte* b = src + (long)(g * Rows + r) * rowBytes + (long)sb * KQuants.Q4KBytes;
                    ((float*)(dst + DAt))[r] = Fp16.ToFloat(*(ushort*)b);
                    ((float*)(dst + DMinAt))[r] = Fp16.ToFloat(*(ushort*)(b + 2));
                    new ReadOnlySpan<byte>(b + 4, 12).CopyTo(scales);
                    for (int s = 0; s < 8; s++)
                    {
                        (int sc, int m) = KQuants.ScaleMin(scales, s);
                        dst[ScAt + s * Rows + r] = (byte)sc;
                        dst[MinAt + s / 2 * 16 + r * 2 + s % 2] = (byte)m;
                    }
                    byte* qs = b + 16;
                    for (int s = 0; s < 8; s++)
                        for (int j = 0; j < 4; j++)
                            for (int k = 0; k < 4; k++)
                                dst[QsAt + s * 128 + j * 32 + r * 4 + k] = (byte)(Nibble(qs, s, 8 * j + k) | Nibble(qs, s, 8 * j + 4 + k) << 4);
                }
    }

    /// <summary>Quant e (0-15) of sub-block s in Q4_K's layout: 32-byte groups, sub-block 2i in the low nibbles of
    /// group i, 2i + 1 in the high.</summary>
    private static int Nibble(byte* qs, int s, int e) => (qs[s / 2 * 32 + e] >> (4 * (s % 2))) & 0xF;

    /// <summary>Eight rows × four tokens: token k's super-blocks start at x + k·stride; writes result[k·8 + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile4(byte* g, ActivationSuperBlock* x, int stride, int superBlocks, float* result)
    {
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> r0 = default, r1 = default, r2 = default, r3 = default;
        Vector256<byte> low = Vector256.Create((byte)0x0F);
        for (int sb = 0; sb < superBlocks; sb++, g += BlockBytes, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(g, 192);
            Vector256<float> d = Vector256.Load((float*)(g + DAt));
            sbyte* q0 = ActivationSuperBlock.QsOf(x), q1 = ActivationSuperBlock.QsOf(x1), q2 = ActivationSuperBlock.QsOf(x2), q3 = ActivationSuperBlock.QsOf(x3);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int s = 0; s < 8; s++)
            {
                byte* w = g + QsAt + s * 128;
                Prefetch.Block(w, 128);
                Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
                for (int j = 0; j < 4; j++)
                {
                    Vector256<byte> v = Vector256.Load(w + 32 * j);
                    Vector256<byte> lo = v & low, hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & low;
                    int o = s * 32 + 8 * j;
                    i0 = Dot(Dot(i0, lo, q0 + o), hi, q0 + o + 4);
                    i1 = Dot(Dot(i1, lo, q1 + o), hi, q1 + o + 4);
                    i2 = Dot(Dot(i2, lo, q2 + o), hi, q2 + o + 4);
                    i3 = Dot(Dot(i3, lo, q3 + o), hi, q3 + o + 4);
                }
                Vector256<float> dsc = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(g + ScAt + s * Rows)) * d;
                a0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i0), dsc, a0);
                a1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i1), dsc, a1);
                a2 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i2), dsc, a2);
                a3 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i3), dsc, a3);
            }
            Vector256<float> dmin = Vector256.Load((float*)(g + DMinAt));
            Vector256<short> m0 = Avx2.ConvertToVector256Int16(g + MinAt), m1 = Avx2.ConvertToVector256Int16(g + MinAt + 16),
                m2 = Avx2.ConvertToVector256Int16(g + MinAt + 32), m3 = Avx2.ConvertToVector256Int16(g + MinAt + 48);
            r0 = Finish(a0, MinDot(m0, m1, m2, m3, x), dmin, x->D, r0);
            r1 = Finish(a1, MinDot(m0, m1, m2, m3, x1), dmin, x1->D, r1);
            r2 = Finish(a2, MinDot(m0, m1, m2, m3, x2), dmin, x2->D, r2);
            r3 = Finish(a3, MinDot(m0, m1, m2, m3, x3), dmin, x3->D, r3);
        }
        Store(result, r0, r1, r2, r3);
    }

    /// <summary>Four tokens' eight rows to result[k·8 + r].</summary>
    internal static void Store(float* result, Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3)
    {
        r0.Store(result);
        r1.Store(result + 8);
        r2.Store(result + 16);
        r3.Store(result + 24);
    }

    /// <summary>Eight rows × one token (decode, and the tokens a tile of four leaves): writes result[0..7].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot1(byte* g, ActivationSuperBlock* x, int superBlocks, float* result)
    {
        Vector256<float> r = default;
        Vector256<byte> low = Vector256.Create((byte)0x0F);
        for (int sb = 0; sb < superBlocks; sb++, g += BlockBytes, x++)
        {
            Prefetch.Block(g, 192);
            Vector256<float> d = Vector256.Load((float*)(g + DAt));
            sbyte* q = ActivationSuperBlock.QsOf(x);
            Vector256<float> a = default, b = default;
            for (int s = 0; s < 8; s += 2)
            {
                byte* w = g + QsAt + s * 128;
                Prefetch.Block(w, 256);
                Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;   // two chains per sub-block
                for (int j = 0; j < 4; j++)
                {
                    Vector256<byte> v = Vector256.Load(w + 32 * j), u = Vector256.Load(w + 128 + 32 * j);
                    int o = s * 32 + 8 * j;
                    i0 = Dot(i0, v & low, q + o);
                    i1 = Dot(i1, Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & low, q + o + 4);
                    i2 = Dot(i2, u & low, q + o + 32);
                    i3 = Dot(i3, Vector256.ShiftRightLogical(u.AsUInt16(), 4).AsByte() & low, q + o + 36);
                }
                a = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i0 + i1),
                    Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(g + ScAt + s * Rows)) * d, a);
                b = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(i2 + i3),
                    Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(g + ScAt + (s + 1) * Rows)) * d, b);
            }
            Vector256<short> m0 = Avx2.ConvertToVector256Int16(g + MinAt), m1 = Avx2.ConvertToVector256Int16(g + MinAt + 16),
                m2 = Avx2.ConvertToVector256Int16(g + MinAt + 32), m3 = Avx2.ConvertToVector256Int16(g + MinAt + 48);
            r = Finish(a + b, MinDot(m0, m1, m2, m3, x), Vector256.Load((float*)(g + DMinAt)), x->D, r);
        }
        r.Store(result);
    }

    /// <summary>acc + Σ over each lane's four bytes of u (0-63) × the four activations at <paramref name="q"/>
    /// (broadcast to the eight lanes, the eight rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, sbyte* q)
    {
        Vector256<sbyte> s = Vector256.Create(*(int*)q).AsSByte();
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, u, s);
        return acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));   // |pair| ≤ 2·63·127
    }

    /// <summary>Σ_s m[s][row] · Σx of sub-block s, for the eight rows: int16 pairs (m ≤ 63, |Σx| ≤ 32·127) by
    /// <c>vpmaddwd</c>, each product pair ≤ 2·63·4064 in int32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinDot(Vector256<short> m0, Vector256<short> m1, Vector256<short> m2, Vector256<short> m3, ActivationSuperBlock* x)
    {
        Vector256<int> sums = Vector256.Load((int*)&x->Sums);
        Vector256<int> pairs = Avx2.PackSignedSaturate(sums, sums).AsInt32();   // dwords: (Σ0,Σ1) (Σ2,Σ3) … | (Σ4,Σ5) (Σ6,Σ7) …
        return Avx2.MultiplyAddAdjacent(m0, Avx2.PermuteVar8x32(pairs, Vector256.Create(0)).AsInt16())
             + Avx2.MultiplyAddAdjacent(m1, Avx2.PermuteVar8x32(pairs, Vector256.Create(1)).AsInt16())
             + Avx2.MultiplyAddAdjacent(m2, Avx2.PermuteVar8x32(pairs, Vector256.Create(4)).AsInt16())
             + Avx2.MultiplyAddAdjacent(m3, Avx2.PermuteVar8x32(pairs, Vector256.Create(5)).AsInt16());
    }

    /// <summary>result + x.D · (Σ_s d·sc·dot − dmin · Σ_s m·Σx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(Vector256<float> scaled, Vector256<int> mins, Vector256<float> dmin, float xd, Vector256<float> result) =>
        Vector256.MultiplyAddEstimate(Vector256.MultiplyAddEstimate(-Vector256.ConvertToSingle(mins), dmin, scaled), Vector256.Create(xd), result);
}
