using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Q4_K, Q5_K and Q6_K rows against <see cref="ActivationSuperBlock"/>s (one activation scale per 256, as ggml's
/// Q8_K). Within a super-block every sub-block's integer dot (<see cref="Int8Dot"/>) is multiplied by its integer
/// scale and summed in int32 lanes; one conversion and one multiply-add by d·d_x close the super-block. The mins of
/// Q4_K/Q5_K are Σ m_j·Σq_j in integers, applied once per super-block, and Q6_K's −32 likewise as Σ scale·Σq per 16.
/// Bounds: |dot lane| ≤ 4·63·127 and scales ≤ 63 (Q4_K/Q5_K) or |scale| ≤ 128 with |q − 32| ≤ 32 (Q6_K), so eight
/// sub-blocks stay far below 2³¹.
/// </summary>
internal static unsafe class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Qs(ActivationSuperBlock* x, int sub) => Vector256.Load(ActivationSuperBlock.QsOf(x) + 32 * sub);

    /// <summary>The eight 6-bit scales into <paramref name="sc"/>; returns the eight mins as int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scales(byte* q, int* sc)
    {
        const uint k1 = 0x3F3F3F3F, k2 = 0x0F0F0F0F, k3 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(q), u1 = Unsafe.ReadUnaligned<uint>(q + 4), u2 = Unsafe.ReadUnaligned<uint>(q + 8);
        Widen(u0 & k1, (u2 & k2) | (((u0 >> 6) & k3) << 4)).Store(sc);
        return Widen(u1 & k1, ((u2 >> 4) & k2) | (((u1 >> 6) & k3) << 4));
    }

    /// <summary>Q6_K's sub-block k as unsigned 6-bit values in <paramref name="q"/>[k], its two scales spread over
    /// lanes 0-3 / 4-7 in <paramref name="sc"/>[k]; returns the sixteen scales as two int32 vectors (for the −32 offset,
    /// <see cref="Q6Offset"/>). Shifts are 16-bit with masks that keep only bits of the same byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<int> Lo, Vector256<int> Hi) Q6Unpack(BlockQ6_K* w, Vector256<byte>* q, Vector256<int>* sc)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F), high2 = Vector256.Create((byte)0x30);
        Vector256<int> s0 = WidenSigned((sbyte*)&w->Scales), s1 = WidenSigned((sbyte*)&w->Scales + 8);
        for (int half = 0; half < 2; half++, q += 4, sc += 4)
        {
            byte* ql = (byte*)&w->Ql + 64 * half;
            Vector256<ushort> qh = Vector256.Load((ushort*)((byte*)&w->Qh + 32 * half));
            Vector256<ushort> ql0 = Vector256.Load((ushort*)ql), ql1 = Vector256.Load((ushort*)(ql + 32));
            q[0] = (ql0.AsByte() & low4) | (Vector256.ShiftLeft(qh, 4).AsByte() & high2);
            q[1] = (ql1.AsByte() & low4) | (Vector256.ShiftLeft(qh, 2).AsByte() & high2);
            q[2] = (Vector256.ShiftRightLogical(ql0, 4).AsByte() & low4) | (qh.AsByte() & high2);
            q[3] = (Vector256.ShiftRightLogical(ql1, 4).AsByte() & low4) | (Vector256.ShiftRightLogical(qh, 2).AsByte() & high2);
            Vector256<int> s = half == 0 ? s0 : s1;
            sc[0] = Vector256.Shuffle(s, Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1));
            sc[1] = Vector256.Shuffle(s, Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3));
            sc[2] = Vector256.Shuffle(s, Vector256.Create(4, 4, 4, 4, 5, 5, 5, 5));
            sc[3] = Vector256.Shuffle(s, Vector256.Create(6, 6, 6, 6, 7, 7, 7, 7));
        }
        return (s0, s1);
    }

    /// <summary>Σ_g scale_g · Σq over the sixteen 16-element groups: Q6_K's −32 offset, applied once per super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Q6Offset((Vector256<int> Lo, Vector256<int> Hi) scales, ActivationSuperBlock* x) =>
        Vector256.Sum(scales.Lo * Vector256.Load((int*)&x->Sums16) + scales.Hi * Vector256.Load((int*)&x->Sums16 + 8));

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
        Vector256<float> acc = default, mins = default;
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Vector256<int> minDot = Scales((byte*)&w->Scales, sc) * Vector256.Load((int*)&x->Sums);
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
            mins = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(minDot), Vector256.Create(Fp16.ToFloat(w->DMin) * x->D), mins);
        }
        return Vector256.Sum(acc - mins);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        var w = (BlockQ5_K*)row;
        int* sc = stackalloc int[8];
        Vector256<float> acc = default, mins = default;
        Vector256<byte> low4 = Vector256.Create((byte)0x0F), bit = Vector256.Create((byte)0x10);
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Vector256<int> minDot = Scales((byte*)&w->Scales, sc) * Vector256.Load((int*)&x->Sums);
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
            mins = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(minDot), Vector256.Create(Fp16.ToFloat(w->DMin) * x->D), mins);
        }
        return Vector256.Sum(acc - mins);
    }

    /// <summary>Q6_K: unsigned 6-bit values dotted directly; the −32 offset is Σ scale·Σq per 16, once per
    /// super-block. Written out in registers (no scratch arrays), one half super-block at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        var w = (BlockQ6_K*)row;
        Vector256<float> acc = default;
        Vector256<int> bias = Vector256.Create(32);
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Vector256<int> s0 = WidenSigned((sbyte*)&w->Scales), s1 = WidenSigned((sbyte*)&w->Scales + 8);
            sbyte* xq = ActivationSuperBlock.QsOf(x);
            // Σ sc·q·x − 32·Σ sc·Σx per 16, both in int32 lanes (the lane sums are what matters).
            Vector256<int> isum = Half6(w, 0, s0, xq) + Half6(w, 1, s1, xq + 128)
                                - bias * (s0 * Vector256.Load((int*)&x->Sums16) + s1 * Vector256.Load((int*)&x->Sums16 + 8));
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(isum), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Σ scale·q·x over one half (128 weights) of a Q6_K super-block, in int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Half6(BlockQ6_K* w, int half, Vector256<int> s, sbyte* xq)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F), high2 = Vector256.Create((byte)0x30);
        byte* ql = (byte*)&w->Ql + 64 * half;
        Vector256<ushort> qh = Vector256.Load((ushort*)((byte*)&w->Qh + 32 * half));
        Vector256<ushort> ql0 = Vector256.Load((ushort*)ql), ql1 = Vector256.Load((ushort*)(ql + 32));
        Vector256<byte> q0 = (ql0.AsByte() & low4) | (Vector256.ShiftLeft(qh, 4).AsByte() & high2);
        Vector256<byte> q1 = (ql1.AsByte() & low4) | (Vector256.ShiftLeft(qh, 2).AsByte() & high2);
        Vector256<byte> q2 = (Vector256.ShiftRightLogical(ql0, 4).AsByte() & low4) | (qh.AsByte() & high2);
        Vector256<byte> q3 = (Vector256.ShiftRightLogical(ql1, 4).AsByte() & low4) | (Vector256.ShiftRightLogical(qh, 2).AsByte() & high2);
        return Int8Dot.DotUnsigned(q0, Vector256.Load(xq)) * Vector256.Shuffle(s, Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1))
             + Int8Dot.DotUnsigned(q1, Vector256.Load(xq + 32)) * Vector256.Shuffle(s, Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3))
             + Int8Dot.DotUnsigned(q2, Vector256.Load(xq + 64)) * Vector256.Shuffle(s, Vector256.Create(4, 4, 4, 4, 5, 5, 5, 5))
             + Int8Dot.DotUnsigned(q3, Vector256.Load(xq + 96)) * Vector256.Shuffle(s, Vector256.Create(6, 6, 6, 6, 7, 7, 7, 7));
    }

    /// <summary>Eight signed bytes at <paramref name="p"/> sign-extended to eight int32 lanes (Q6_K's scales of one
    /// half super-block; sub-block k takes lane 2k for its first 16 weights and 2k + 1 for the rest).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> WidenSigned(sbyte* p)
    {
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) return System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int32(p);
        Vector128<short> w = Vector128.WidenLower(Vector128.CreateScalar(Unsafe.ReadUnaligned<long>(p)).AsSByte());
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w));
    }
}
