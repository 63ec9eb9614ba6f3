using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SinkLab.Kernels;

/// <summary>One 256-weight block unpacked to what the integer kernels consume: eight vectors of 32 signed weights
/// (<see cref="W"/>), their lane scales (<see cref="S"/>: lanes 0-3 scale the first 16 weights of the vector, lanes
/// 4-7 the last 16), one float factor, and for types with mins the sixteen mins per 16 weights.
/// The block's value is D·Σ_k S_k·(W_k·x_k) − DMin·Σ_g M_g·Σx_g.</summary>
internal struct UnpackedSuperBlock
{
    public Weights8 W;
    public Scales8 S;
    public Vector256<int> Mins0, Mins1;
    public float D, DMin;

    [InlineArray(8)] public struct Weights8 { private Vector256<sbyte> _e0; }
    [InlineArray(8)] public struct Scales8 { private Vector256<int> _e0; }

    /// <summary>The 256 weights as bytes (for unpackers that fill them one by one).</summary>
    public static Span<sbyte> Bytes(ref UnpackedSuperBlock u) => MemoryMarshal.CreateSpan(ref Unsafe.As<Weights8, sbyte>(ref u.W), 256);
}

/// <summary>A 256-weight block type the generic kernels of <see cref="SuperBlockKernels"/> run through its unpacker.</summary>
internal unsafe interface ISuperBlock
{
    static abstract int Size { get; }
    static abstract bool HasMins { get; }
    static abstract void Unpack(byte* block, ref UnpackedSuperBlock u);
}

/// <summary>
/// Row · activations and row × 4 tokens for the 2/3-bit K-quants, the i-quants and the ternary types, written once
/// over <see cref="ISuperBlock"/> and specialised per type by the JIT. Every type is reduced to signed bytes and
/// integer scales per 16 weights (<see cref="UnpackedSuperBlock"/>), so the arithmetic is ggml's: integer dots
/// against the Q8_K-style <see cref="ActivationSuperBlock"/>, scaled in int32 and converted once per 256 weights
/// (|w| ≤ 127, |scale| ≤ 63: eight sub-blocks stay far inside int32).
/// </summary>
internal static unsafe class SuperBlockKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(ref UnpackedSuperBlock u, sbyte* xq)
    {
        Vector256<int> isum = Int8Dot.DotSigned(u.W[0], Vector256.Load(xq)) * u.S[0];
        for (int k = 1; k < 8; k++) isum += Int8Dot.DotSigned(u.W[k], Vector256.Load(xq + 32 * k)) * u.S[k];
        return isum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinSum(ref UnpackedSuperBlock u, ActivationSuperBlock* x) =>
        u.Mins0 * Vector256.Load((int*)&x->Sums16) + u.Mins1 * Vector256.Load((int*)&x->Sums16 + 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> v, float scale, Vector256<float> acc) =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(v), Vector256.Create(scale), acc);

    /// <summary>One row against one token's activation super-blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot<T>(byte* row, ActivationSuperBlock* x, int superBlocks) where T : ISuperBlock
    {
        UnpackedSuperBlock u = default;
        Vector256<float> acc = default, mins = default;
        for (int sb = 0; sb < superBlocks; sb++, row += T.Size, x++)
        {
            T.Unpack(row, ref u);
            acc = Fma(Dot(ref u, ActivationSuperBlock.QsOf(x)), u.D * x->D, acc);
            if (T.HasMins) mins = Fma(MinSum(ref u, x), u.DMin * x->D, mins);
        }
        return Vector256.Sum(acc - mins);
    }

    /// <summary>One row against four tokens (token k's super-blocks start at x + k·stride): each block unpacked once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile<T>(byte* row, ActivationSuperBlock* x, int stride, int superBlocks, float* result) where T : ISuperBlock
    {
        UnpackedSuperBlock u = default;
        ActivationSuperBlock* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int sb = 0; sb < superBlocks; sb++, row += T.Size, x++, x1++, x2++, x3++)
        {
            T.Unpack(row, ref u);
            sbyte* q0 = ActivationSuperBlock.QsOf(x), q1 = ActivationSuperBlock.QsOf(x1), q2 = ActivationSuperBlock.QsOf(x2), q3 = ActivationSuperBlock.QsOf(x3);
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            for (int k = 0; k < 8; k++)
            {
                Vector256<sbyte> w = u.W[k];
                Vector256<byte> abs = Int8Dot.Abs(w);
                Vector256<int> s = u.S[k];
                i0 += Int8Dot.DotSigned(w, abs, Vector256.Load(q0 + 32 * k)) * s;
                i1 += Int8Dot.DotSigned(w, abs, Vector256.Load(q1 + 32 * k)) * s;
                i2 += Int8Dot.DotSigned(w, abs, Vector256.Load(q2 + 32 * k)) * s;
                i3 += Int8Dot.DotSigned(w, abs, Vector256.Load(q3 + 32 * k)) * s;
            }
            a0 = Fma(i0, u.D * x->D, a0);
            a1 = Fma(i1, u.D * x1->D, a1);
            a2 = Fma(i2, u.D * x2->D, a2);
            a3 = Fma(i3, u.D * x3->D, a3);
            if (T.HasMins)
            {
                a0 = Fma(MinSum(ref u, x), -u.DMin * x->D, a0);
                a1 = Fma(MinSum(ref u, x1), -u.DMin * x1->D, a1);
                a2 = Fma(MinSum(ref u, x2), -u.DMin * x2->D, a2);
                a3 = Fma(MinSum(ref u, x3), -u.DMin * x3->D, a3);
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
