using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Q4_K, Q5_K and Q6_K rows against <see cref="ActivationSuperBlock"/>s (one activation scale per 256, as ggml's
/// Q8_K). Within a super-block every sub-block's integer dot (<see cref="Int8Dot"/>) is multiplied by its integer
/// scale and summed in int32 lanes; one conversion and one multiply-add by d·d_x close the super-block. The mins of
/// Q4_K/Q5_K are Σ m_j·Σq_j in integers, applied once per super-block; Q6_K's values are made signed (q − 32).
/// Bounds: |dot lane| ≤ 4·63·127 and scales ≤ 63 (Q4_K/Q5_K) or |scale| ≤ 128 with |q − 32| ≤ 32 (Q6_K), so eight
/// sub-blocks stay far below 2³¹.
/// </summary>
internal static unsafe class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Qs(ActivationSuperBlock* x, int sub) => Vector256.Load(ActivationSuperBlock.QsOf(x) + 32 * sub);

    /// <summary>ggml's <c>get_scale_min_k4</c> for all eight sub-blocks at once, on 32-bit words (byte lanes):
    /// the scales go to <paramref name="sc"/> as int32; returns Σ m_j · Σq_j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ScalesAndMinDot(byte* q, int* sc, ActivationSuperBlock* x) =>
        Vector256.Sum(Scales(q, sc) * Vector256.Load((int*)&x->Sums));

    /// <summary>The eight 6-bit scales into <paramref name="sc"/>; returns the eight mins as int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* q, int* sc)
    {
        const uint k1 = 0x3F3F3F3F, k2 = 0x0F0F0F0F, k3 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(q), u1 = Unsafe.ReadUnaligned<uint>(q + 4), u2 = Unsafe.ReadUnaligned<uint>(q + 8);
        Widen(u0 & k1, (u2 & k2) | (((u0 >> 6) & k3) << 4)).Store(sc);
        return Widen(u1 & k1, ((u2 >> 4) & k2) | (((u1 >> 6) & k3) << 4));
    }

    /// <summary>Q6_K's sub-block k as signed bytes q − 32 in <paramref name="q"/>[k], and its two scales spread over
    /// lanes 0-3 / 4-7 in <paramref name="sc"/>[k].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q6Unpack(BlockQ6_K* w, Vector256<sbyte>* q, Vector256<int>* sc)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F), three = Vector256.Create((byte)3);
        Vector256<sbyte> bias = Vector256.Create((sbyte)32);
        Vector128<sbyte> scales = Vector128.Load((sbyte*)&w->Scales);
        for (int half = 0; half < 2; half++, q += 4, sc += 4)
        {
            byte* ql = (byte*)&w->Ql + 64 * half;
            Vector256<byte> qh = Vector256.Load((byte*)&w->Qh + 32 * half);
            Vector256<byte> ql0 = Vector256.Load(ql), ql1 = Vector256.Load(ql + 32);
            q[0] = ((ql0 & low4) | Vector256.ShiftLeft(qh & three, 4)).AsSByte() - bias;
            q[1] = ((ql1 & low4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2) & three, 4)).AsSByte() - bias;
            q[2] = (Vector256.ShiftRightLogical(ql0, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 4) & three, 4)).AsSByte() - bias;
            q[3] = (Vector256.ShiftRightLogical(ql1, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 6), 4)).AsSByte() - bias;
            Vector256<int> s = WidenSigned(half == 0 ? scales.GetLower() : scales.GetUpper());
            sc[0] = Vector256.Shuffle(s, Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1));
            sc[1] = Vector256.Shuffle(s, Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3));
            sc[2] = Vector256.Shuffle(s, Vector256.Create(4, 4, 4, 4, 5, 5, 5, 5));
            sc[3] = Vector256.Shuffle(s, Vector256.Create(6, 6, 6, 6, 7, 7, 7, 7));
        }
    }

    /// <summary>Eight bytes (four in each word) zero-extended to eight int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen(uint lo, uint hi)
    {
        Vector128<byte> b = Vector128.CreateScalar(lo | (ulong)hi << 32).AsByte();
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) return System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int32(b);
        Vector128<ushort> w = Vector128.WidenLower(b);
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w)).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        var w = (BlockQ4_K*)row;
        int* sc = stackalloc int[8];
        Vector256<float> acc = default;
        float mins = 0;
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            int minDot = ScalesAndMinDot((byte*)&w->Scales, sc, x);
            byte* qs = (byte*)&w->Qs;
            // Unrolled by hand: the JIT keeps a 4-iteration loop, and its index arithmetic cost as much as the dots.
            Vector256<byte> q0 = Vector256.Load(qs), q1 = Vector256.Load(qs + 32), q2 = Vector256.Load(qs + 64), q3 = Vector256.Load(qs + 96);
            Vector256<int> isum0 = Int8Dot.DotUnsigned(q0 & low4, Qs(x, 0)) * Vector256.Create(sc[0])
                                 + Int8Dot.DotUnsigned(q1 & low4, Qs(x, 2)) * Vector256.Create(sc[2]);
            Vector256<int> isum1 = Int8Dot.DotUnsigned(Vector256.ShiftRightLogical(q0, 4), Qs(x, 1)) * Vector256.Create(sc[1])
                                 + Int8Dot.DotUnsigned(Vector256.ShiftRightLogical(q1, 4), Qs(x, 3)) * Vector256.Create(sc[3]);
            isum0 += Int8Dot.DotUnsigned(q2 & low4, Qs(x, 4)) * Vector256.Create(sc[4])
                   + Int8Dot.DotUnsigned(q3 & low4, Qs(x, 6)) * Vector256.Create(sc[6]);
            isum1 += Int8Dot.DotUnsigned(Vector256.ShiftRightLogical(q2, 4), Qs(x, 5)) * Vector256.Create(sc[5])
                   + Int8Dot.DotUnsigned(Vector256.ShiftRightLogical(q3, 4), Qs(x, 7)) * Vector256.Create(sc[7]);
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(isum0 + isum1), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
            mins += Fp16.ToFloat(w->DMin) * x->D * minDot;
        }
        return Vector256.Sum(acc) - mins;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        var w = (BlockQ5_K*)row;
        int* sc = stackalloc int[8];
        Vector256<float> acc = default;
        float mins = 0;
        Vector256<byte> low4 = Vector256.Create((byte)0x0F), bit = Vector256.Create((byte)0x10);
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            int minDot = ScalesAndMinDot((byte*)&w->Scales, sc, x);
            byte* qs = (byte*)&w->Qs;
            Vector256<byte> qh = Vector256.Load((byte*)&w->Qh);
            Vector256<int> isum0 = default, isum1 = default;
            for (int j = 0; j < 8; j += 2, qs += 32)
            {
                Vector256<byte> q = Vector256.Load(qs);
                Vector256<byte> lo = (q & low4) | (Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, j), 4) & bit);
                Vector256<byte> hi = Vector256.ShiftRightLogical(q, 4) | (Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, j + 1), 4) & bit);
                isum0 += Int8Dot.DotUnsigned(lo, Qs(x, j)) * Vector256.Create(sc[j]);
                isum1 += Int8Dot.DotUnsigned(hi, Qs(x, j + 1)) * Vector256.Create(sc[j + 1]);
            }
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(isum0 + isum1), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
            mins += Fp16.ToFloat(w->DMin) * x->D * minDot;
        }
        return Vector256.Sum(acc) - mins;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        var w = (BlockQ6_K*)row;
        Vector256<sbyte>* q = stackalloc Vector256<sbyte>[8];
        Vector256<int>* sc = stackalloc Vector256<int>[8];
        Vector256<float> acc = default;
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Q6Unpack(w, q, sc);
            sbyte* xq = ActivationSuperBlock.QsOf(x);
            Vector256<int> isum0 = Int8Dot.DotSigned(q[0], Vector256.Load(xq)) * sc[0] + Int8Dot.DotSigned(q[2], Vector256.Load(xq + 64)) * sc[2]
                                 + Int8Dot.DotSigned(q[4], Vector256.Load(xq + 128)) * sc[4] + Int8Dot.DotSigned(q[6], Vector256.Load(xq + 192)) * sc[6];
            Vector256<int> isum1 = Int8Dot.DotSigned(q[1], Vector256.Load(xq + 32)) * sc[1] + Int8Dot.DotSigned(q[3], Vector256.Load(xq + 96)) * sc[3]
                                 + Int8Dot.DotSigned(q[5], Vector256.Load(xq + 160)) * sc[5] + Int8Dot.DotSigned(q[7], Vector256.Load(xq + 224)) * sc[7];
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(isum0 + isum1), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Eight signed bytes sign-extended to eight int32 lanes (Q6_K's scales of one half super-block; sub-block
    /// k takes lanes 2k for its first 16 weights and 2k + 1 for the rest, spread by a shuffle).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> WidenSigned(Vector64<sbyte> b)
    {
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) return System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int32(b.ToVector128());
        Vector128<short> w = Vector128.WidenLower(b.ToVector128());
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w));
    }
}
