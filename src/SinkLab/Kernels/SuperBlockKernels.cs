using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SinkLab.Kernels;

/// <summary>A 256-weight block type, as the generic kernels of <see cref="SuperBlockKernels"/> read it: eight vectors of
/// 32 signed weights, each with lane scales (lanes 0-3 scale its first 16 weights, lanes 4-7 the last 16), one float
/// factor, and for types with mins sixteen mins per 16 weights. The block's value is
/// D·Σ_k S_k·(W_k·x_k) − DMin·Σ_g M_g·Σx_g. Accessors take the sub-vector index k as a constant after inlining.</summary>
internal unsafe interface ISuperBlock
{
    static abstract int Size { get; }
    static abstract float D(byte* block);
    static abstract Vector256<sbyte> Weights(byte* block, int k);
    static abstract Vector256<int> Scales(byte* block, int k);
    /// <summary>Whether the type subtracts mins (only Q2_K among these); the three members below default to none.</summary>
    static virtual bool HasMins => false;
    /// <summary>For types with mins: the factor of the mins.</summary>
    static virtual float DMin(byte* block) => 0;
    /// <summary>For types with mins: mins 0-7 (<paramref name="half"/> 0) or 8-15 (1).</summary>
    static virtual Vector256<int> Mins(byte* block, int half) => default;
}

/// <summary>
/// Row · activations and row × 4 tokens for the 2/3-bit K-quants, the i-quants and the ternary types, written once
/// over <see cref="ISuperBlock"/> and specialised per type by the JIT. Every type is reduced to signed bytes and
/// integer scales per 16 weights, so the arithmetic is ggml's: integer dots against the Q8_K-style
/// <see cref="ActivationSuperBlock"/>, scaled in int32 and converted once per 256 weights (|w| ≤ 127, |scale| ≤ 63:
/// eight sub-blocks stay far inside int32). The eight sub-vectors are written out, so each accessor is inlined with a
/// constant index and the weights never leave registers.
/// </summary>
internal static unsafe class SuperBlockKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Sub<T>(byte* b, int k, sbyte* xq) where T : ISuperBlock =>
        Int8Dot.DotSigned(T.Weights(b, k), Vector256.Load(xq + 32 * k)) * T.Scales(b, k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinSum<T>(byte* b, ActivationSuperBlock* x) where T : ISuperBlock =>
        T.Mins(b, 0) * Vector256.Load((int*)&x->Sums16) + T.Mins(b, 1) * Vector256.Load((int*)&x->Sums16 + 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> v, float scale, Vector256<float> acc) =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(v), Vector256.Create(scale), acc);

    /// <summary>One row against one token's activation super-blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot<T>(byte* row, ActivationSuperBlock* x, int superBlocks) where T : ISuperBlock
    {
        Vector256<float> acc = default, mins = default;
        for (int sb = 0; sb < superBlocks; sb++, row += T.Size, x++)
        {
            Prefetch.Block(row, T.Size);
            sbyte* xq = ActivationSuperBlock.QsOf(x);
            Vector256<int> even = Sub<T>(row, 0, xq) + Sub<T>(row, 2, xq) + Sub<T>(row, 4, xq) + Sub<T>(row, 6, xq);
            Vector256<int> odd = Sub<T>(row, 1, xq) + Sub<T>(row, 3, xq) + Sub<T>(row, 5, xq) + Sub<T>(row, 7, xq);
            acc = Fma(even + odd, T.D(row) * x->D, acc);
            if (T.HasMins) mins = Fma(MinSum<T>(row, x), T.DMin(row) * x->D, mins);
        }
        return Vector256.Sum(acc - mins);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile4<T>(byte* b, int k, sbyte* q0, sbyte* q1, sbyte* q2, sbyte* q3,
        ref Vector256<int> i0, ref Vector256<int> i1, ref Vector256<int> i2, ref Vector256<int> i3) where T : ISuperBlock
    {
        Vector256<sbyte> w = T.Weights(b, k);
        Vector256<byte> abs = Int8Dot.Abs(w);
        Vector256<int> s = T.Scales(b, k);
        i0 += Int8Dot.DotSigned(w, abs, Vector256.Load(q0 + 32 * k)) * s;
        i1 += Int8Dot.DotSigned(w, abs, Vector256.Load(q1 + 32 * k)) * s;
        i2 += Int8Dot.DotSigned(w, abs, Vector256.Load(q2 + 32 * k)) * s;
        i3 += Int8Dot.DotSigned(w, abs, Vector256.Load(q3 + 32 * k)) * s;
    }

    /// <summary>One row against four tokens (token k's super-blocks start at x + k·stride): each block unpacked once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile<T>(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result) where T : ISuperBlock
    {
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int sb = 0; sb < superBlocks; sb++, row += T.Size, x++, x1++, x2++, x3++)
        {
            Prefetch.Block(row, T.Size);
            sbyte* q0 = ActivationSuperBlock.QsOf(x), q1 = ActivationSuperBlock.QsOf(x1), q2 = ActivationSuperBlock.QsOf(x2), q3 = ActivationSuperBlock.QsOf(x3);
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Tile4<T>(row, 0, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 1, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 2, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 3, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 4, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 5, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 6, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            Tile4<T>(row, 7, q0, q1, q2, q3, ref i0, ref i1, ref i2, ref i3);
            float d = T.D(row);
            a0 = Fma(i0, d * x->D, a0);
            a1 = Fma(i1, d * x1->D, a1);
            a2 = Fma(i2, d * x2->D, a2);
            a3 = Fma(i3, d * x3->D, a3);
            if (T.HasMins)
            {
                float dmin = T.DMin(row);
                a0 = Fma(MinSum<T>(row, x), -dmin * x->D, a0);
                a1 = Fma(MinSum<T>(row, x1), -dmin * x1->D, a1);
                a2 = Fma(MinSum<T>(row, x2), -dmin * x2->D, a2);
                a3 = Fma(MinSum<T>(row, x3), -dmin * x3->D, a3);
            }
        }
        result[0] = Vector256.Sum(a0);
        result[1] = Vector256.Sum(a1);
        result[2] = Vector256.Sum(a2);
        result[3] = Vector256.Sum(a3);
    }

    /// <summary>Lane scales for a vector whose two halves of 16 weights take <paramref name="lo"/> and <paramref name="hi"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Pair(int lo, int hi) => Vector256.Create(Vector128.Create(lo), Vector128.Create(hi));

    /// <summary>Bytes &lt; 16 looked up in a 16-entry signed table (vpshufb within each 128-bit lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Lookup16(Vector256<byte> index, Vector128<sbyte> table)
    {
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            return System.Runtime.Intrinsics.X86.Avx2.Shuffle(Vector256.Create(table, table), index.AsSByte());
        return Vector256.Create(Vector128.Shuffle(table, index.GetLower().AsSByte()), Vector128.Shuffle(table, index.GetUpper().AsSByte()));
    }

    /// <summary>IQ4_NL's 16 values as a constant vector (the embedded table's values, checked equal by a test): a
    /// constant needs no class-initialisation check in kernels compiled before the tables are loaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Iq4Values() => Vector128.Create(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, (sbyte)113);

    /// <summary>For each byte value, eight bytes of 0x00 (bit clear) or 0xFF (bit set): the sign masks of the
    /// i-quants' sign bytes (a weight w with mask m is (w ^ m) − m).</summary>
    public static readonly ulong[] SignMasks = BuildSignMasks();

    private static ulong[] BuildSignMasks()
    {
        var m = new ulong[256];
        for (int s = 0; s < 256; s++)
            for (int j = 0; j < 8; j++)
                if ((s >> j & 1) != 0) m[s] |= 0xFFUL << (8 * j);
        return m;
    }

    /// <summary>Four 8-weight grid points with their sign masks as 32 signed weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Signed(ulong g0, ulong g1, ulong g2, ulong g3, ulong m0, ulong m1, ulong m2, ulong m3)
    {
        Vector256<sbyte> g = Vector256.Create(g0, g1, g2, g3).AsSByte(), m = Vector256.Create(m0, m1, m2, m3).AsSByte();
        return (g ^ m) - m;
    }
}
