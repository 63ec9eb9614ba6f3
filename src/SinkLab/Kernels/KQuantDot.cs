using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

    /// <summary>AVX-VNNI: the eight 6-bit scales as four int16 pair vectors for <see cref="Dot8Pairs"/> (s01 holds sc0 in
    /// the int16 lanes where <c>vpackssdw</c> puts sub-block 0's dot and sc1 where it puts sub-block 1's); returns the
    /// eight mins as int16 lanes 0, 2, …, 14 (odd lanes zero) for <see cref="MinDot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScalePairs(byte* q, out Vector256<short> s01, out Vector256<short> s23, out Vector256<short> s45, out Vector256<short> s67)
    {
        const uint k1 = 0x3F3F3F3F, k2 = 0x0F0F0F0F, k3 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(q), u1 = Unsafe.ReadUnaligned<uint>(q + 4), u2 = Unsafe.ReadUnaligned<uint>(q + 8);
        Vector256<int> sc = Widen(u0 & k1, (u2 & k2) | (((u0 >> 6) & k3) << 4));
        sc |= Vector256.ShiftLeft(sc, 16);   // each int32 lane: the scale in both int16 halves
        s01 = Avx2.PermuteVar8x32(sc, Vector256.Create(0, 0, 1, 1, 0, 0, 1, 1)).AsInt16();
        s23 = Avx2.PermuteVar8x32(sc, Vector256.Create(2, 2, 3, 3, 2, 2, 3, 3)).AsInt16();
        s45 = Avx2.PermuteVar8x32(sc, Vector256.Create(4, 4, 5, 5, 4, 4, 5, 5)).AsInt16();
        s67 = Avx2.PermuteVar8x32(sc, Vector256.Create(6, 6, 7, 7, 6, 6, 7, 7)).AsInt16();
        return Widen(u1 & k1, ((u2 >> 4) & k2) | (((u1 >> 6) & k3) << 4));
    }

    /// <summary>AVX-VNNI: Σ_j sc_j · (u_j · x_j) over the eight sub-blocks, two sub-blocks' int16-exact dots packed and
    /// scaled by one <c>vpdpwssd</c> (int32 lanes; same total as <see cref="Dot8"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot8Pairs(Vector256<byte> u0, Vector256<byte> u1, Vector256<byte> u2, Vector256<byte> u3,
        Vector256<byte> u4, Vector256<byte> u5, Vector256<byte> u6, Vector256<byte> u7,
        Vector256<short> s01, Vector256<short> s23, Vector256<short> s45, Vector256<short> s67, ActivationSuperBlock* x)
    {
        Vector256<int> z = Vector256<int>.Zero;
        Vector256<int> even = AvxVnni.MultiplyWideningAndAdd(z, Pack(u0, u1, x, 0), s01);
        Vector256<int> odd = AvxVnni.MultiplyWideningAndAdd(z, Pack(u2, u3, x, 2), s23);
        even = AvxVnni.MultiplyWideningAndAdd(even, Pack(u4, u5, x, 4), s45);
        odd = AvxVnni.MultiplyWideningAndAdd(odd, Pack(u6, u7, x, 6), s67);
        return even + odd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Pack(Vector256<byte> ua, Vector256<byte> ub, ActivationSuperBlock* x, int sub) =>
        Avx2.PackSignedSaturate(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, ua, Qs(x, sub)),
                                AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, ub, Qs(x, sub + 1)));

    /// <summary>Σ_j m_j·Σq_j as int32 lanes: the mins (int32 lanes, each below 64, so an int16 with a zero upper half)
    /// against the activation sub-block sums (|Σq| ≤ 32·127, int16-exact in the low half) in one <c>vpdpwssd</c> —
    /// the upper half of a negative sum is −1 but meets the mins' zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MinDot(Vector256<int> mins, ActivationSuperBlock* x) =>
        AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, mins.AsInt16(), Vector256.Load((int*)&x->Sums).AsInt16());

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
        if (AvxVnni.IsSupported) return KVnni(row, x, superBlocks, fifthBits: false);
        var w = (BlockQ4_K*)row;
        int* sc = stackalloc int[8];
        Vector256<float> acc = default, mins = default;
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Prefetch.Block((byte*)w, sizeof(BlockQ4_K));
            Vector256<int> m = Scales((byte*)&w->Scales, sc);
            Unpack4((byte*)&w->Qs, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5, out var u6, out var u7);
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot8(u0, u1, u2, u3, u4, u5, u6, u7, sc, x)), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
            mins = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(m * Vector256.Load((int*)&x->Sums)), Vector256.Create(Fp16.ToFloat(w->DMin) * x->D), mins);
        }
        return Vector256.Sum(acc - mins);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        if (AvxVnni.IsSupported) return KVnni(row, x, superBlocks, fifthBits: true);
        var w = (BlockQ5_K*)row;
        int* sc = stackalloc int[8];
        Vector256<float> acc = default, mins = default;
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Prefetch.Block((byte*)w, sizeof(BlockQ5_K));
            Vector256<int> m = Scales((byte*)&w->Scales, sc);
            Unpack4((byte*)&w->Qs, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5, out var u6, out var u7);
            FifthBits((ushort*)&w->Qh, ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot8(u0, u1, u2, u3, u4, u5, u6, u7, sc, x)), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
            mins = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(m * Vector256.Load((int*)&x->Sums)), Vector256.Create(Fp16.ToFloat(w->DMin) * x->D), mins);
        }
        return Vector256.Sum(acc - mins);
    }

    /// <summary>AVX-VNNI Q4_K/Q5_K row · one token: <see cref="Dot8Pairs"/> and <see cref="MinDot"/> (as the prefill tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float KVnni(byte* row, ActivationSuperBlock* x, int superBlocks, bool fifthBits)
    {
        int blockBytes = fifthBits ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K), qsAt = fifthBits ? 48 : 16;
        Vector256<float> acc = default, mins = default;
        for (int sb = 0; sb < superBlocks; sb++, row += blockBytes, x++)
        {
            Prefetch.Block(row, blockBytes);
            var w = (BlockQ4_K*)row;
            Vector256<int> m = ScalePairs((byte*)&w->Scales, out var s01, out var s23, out var s45, out var s67);
            Unpack4(row + qsAt, out var u0, out var u1, out var u2, out var u3, out var u4, out var u5, out var u6, out var u7);
            if (fifthBits) FifthBits((ushort*)(row + 16), ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Dot8Pairs(u0, u1, u2, u3, u4, u5, u6, u7, s01, s23, s45, s67, x)), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
            mins = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(MinDot(m, x)), Vector256.Create(Fp16.ToFloat(w->DMin) * x->D), mins);
        }
        return Vector256.Sum(acc - mins);
    }

    /// <summary>The 128 nibble bytes of a Q4_K/Q5_K super-block as eight sub-block vectors (sub-block 2g in the low
    /// nibbles of bytes 32g…32g+31, 2g + 1 in the high ones). Unrolled by hand: the JIT kept a 4-iteration loop whose
    /// index arithmetic cost as much as the dots.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack4(byte* qs, out Vector256<byte> u0, out Vector256<byte> u1, out Vector256<byte> u2, out Vector256<byte> u3,
        out Vector256<byte> u4, out Vector256<byte> u5, out Vector256<byte> u6, out Vector256<byte> u7)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        Vector256<byte> p0 = Vector256.Load(qs), p1 = Vector256.Load(qs + 32), p2 = Vector256.Load(qs + 64), p3 = Vector256.Load(qs + 96);
        (u0, u1, u2, u3) = (p0 & low4, Vector256.ShiftRightLogical(p0, 4), p1 & low4, Vector256.ShiftRightLogical(p1, 4));
        (u4, u5, u6, u7) = (p2 & low4, Vector256.ShiftRightLogical(p2, 4), p3 & low4, Vector256.ShiftRightLogical(p3, 4));
    }

    /// <summary>Q5_K's fifth bits: bit j of qh[l] moved to bit 4 of sub-block j's byte l by a constant 16-bit shift
    /// (the 0x10 mask keeps only bits of the same byte).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FifthBits(ushort* qhp, ref Vector256<byte> u0, ref Vector256<byte> u1, ref Vector256<byte> u2, ref Vector256<byte> u3,
        ref Vector256<byte> u4, ref Vector256<byte> u5, ref Vector256<byte> u6, ref Vector256<byte> u7)
    {
        Vector256<ushort> qh = Vector256.Load(qhp);
        Vector256<byte> bit = Vector256.Create((byte)0x10);
        u0 |= Vector256.ShiftLeft(qh, 4).AsByte() & bit;
        u1 |= Vector256.ShiftLeft(qh, 3).AsByte() & bit;
        u2 |= Vector256.ShiftLeft(qh, 2).AsByte() & bit;
        u3 |= Vector256.ShiftLeft(qh, 1).AsByte() & bit;
        u4 |= qh.AsByte() & bit;
        u5 |= Vector256.ShiftRightLogical(qh, 1).AsByte() & bit;
        u6 |= Vector256.ShiftRightLogical(qh, 2).AsByte() & bit;
        u7 |= Vector256.ShiftRightLogical(qh, 3).AsByte() & bit;
    }

    /// <summary>Σ_j sc_j · (u_j · x_j) over the eight sub-blocks of a super-block, in int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot8(Vector256<byte> u0, Vector256<byte> u1, Vector256<byte> u2, Vector256<byte> u3,
        Vector256<byte> u4, Vector256<byte> u5, Vector256<byte> u6, Vector256<byte> u7, int* sc, ActivationSuperBlock* x)
    {
        Vector256<int> even = Int8Dot.DotUnsigned(u0, Qs(x, 0)) * Vector256.Create(sc[0]) + Int8Dot.DotUnsigned(u2, Qs(x, 2)) * Vector256.Create(sc[2])
                            + Int8Dot.DotUnsigned(u4, Qs(x, 4)) * Vector256.Create(sc[4]) + Int8Dot.DotUnsigned(u6, Qs(x, 6)) * Vector256.Create(sc[6]);
        Vector256<int> odd = Int8Dot.DotUnsigned(u1, Qs(x, 1)) * Vector256.Create(sc[1]) + Int8Dot.DotUnsigned(u3, Qs(x, 3)) * Vector256.Create(sc[3])
                           + Int8Dot.DotUnsigned(u5, Qs(x, 5)) * Vector256.Create(sc[5]) + Int8Dot.DotUnsigned(u7, Qs(x, 7)) * Vector256.Create(sc[7]);
        return even + odd;
    }

    /// <summary>Q6_K: unsigned 6-bit values dotted directly; the −32 offset is Σ scale·Σq per 16, once per
    /// super-block. Written out in registers (no scratch arrays), one half super-block at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6_K(byte* row, ActivationSuperBlock* x, int superBlocks)
    {
        var w = (BlockQ6_K*)row;
        Vector256<float> acc = default;
        for (int sb = 0; sb < superBlocks; sb++, w++, x++)
        {
            Prefetch.Block((byte*)w, sizeof(BlockQ6_K));
            Q6Scales(w, out Vector256<int> s0, out Vector256<int> s1);
            sbyte* xq = ActivationSuperBlock.QsOf(x);
            Q6Unpack(w, 0, out Vector256<byte> q0, out Vector256<byte> q1, out Vector256<byte> q2, out Vector256<byte> q3);
            Vector256<int> isum = Q6Dot(q0, q1, q2, q3, s0, xq) - Q6Bias(s0, s1, x);
            Q6Unpack(w, 1, out q0, out q1, out q2, out q3);
            isum += Q6Dot(q0, q1, q2, q3, s1, xq + 128);
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(isum), Vector256.Create(Fp16.ToFloat(w->D) * x->D), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Q6_K's sixteen scales as two int32 vectors (scales 0-7, 8-15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q6Scales(BlockQ6_K* w, out Vector256<int> s0, out Vector256<int> s1)
    {
        s0 = WidenSigned((sbyte*)&w->Scales);
        s1 = WidenSigned((sbyte*)&w->Scales + 8);
    }

    /// <summary>32·Σ_g scale_g·Σq_g over the sixteen 16-element groups, in int32 lanes: Q6_K's −32 offset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Q6Bias(Vector256<int> s0, Vector256<int> s1, ActivationSuperBlock* x) =>
        Vector256.Create(32) * (s0 * Vector256.Load((int*)&x->Sums16) + s1 * Vector256.Load((int*)&x->Sums16 + 8));

    /// <summary>One half (128 weights) of a Q6_K super-block unpacked to unsigned 6-bit values, one vector per
    /// 32-weight sub-block. Shifts are 16-bit with masks that keep only bits of the same byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q6Unpack(BlockQ6_K* w, int half, out Vector256<byte> q0, out Vector256<byte> q1, out Vector256<byte> q2, out Vector256<byte> q3)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F), high2 = Vector256.Create((byte)0x30);
        byte* ql = (byte*)&w->Ql + 64 * half;
        Vector256<ushort> qh = Vector256.Load((ushort*)((byte*)&w->Qh + 32 * half));
        Vector256<ushort> ql0 = Vector256.Load((ushort*)ql), ql1 = Vector256.Load((ushort*)(ql + 32));
        q0 = (ql0.AsByte() & low4) | (Vector256.ShiftLeft(qh, 4).AsByte() & high2);
        q1 = (ql1.AsByte() & low4) | (Vector256.ShiftLeft(qh, 2).AsByte() & high2);
        q2 = (Vector256.ShiftRightLogical(ql0, 4).AsByte() & low4) | (qh.AsByte() & high2);
        q3 = (Vector256.ShiftRightLogical(ql1, 4).AsByte() & low4) | (Vector256.ShiftRightLogical(qh, 2).AsByte() & high2);
    }

    /// <summary>Σ scale·q·x over one unpacked half against the 128 activations at <paramref name="xq"/>, in int32
    /// lanes; sub-block k takes scales 2k (lanes 0-3) and 2k + 1 (lanes 4-7) of <paramref name="s"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Q6Dot(Vector256<byte> q0, Vector256<byte> q1, Vector256<byte> q2, Vector256<byte> q3, Vector256<int> s, sbyte* xq) =>
        Int8Dot.DotUnsigned(q0, Vector256.Load(xq)) * Vector256.Shuffle(s, Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1))
        + Int8Dot.DotUnsigned(q1, Vector256.Load(xq + 32)) * Vector256.Shuffle(s, Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3))
        + Int8Dot.DotUnsigned(q2, Vector256.Load(xq + 64)) * Vector256.Shuffle(s, Vector256.Create(4, 4, 4, 4, 5, 5, 5, 5))
        + Int8Dot.DotUnsigned(q3, Vector256.Load(xq + 96)) * Vector256.Shuffle(s, Vector256.Create(6, 6, 6, 6, 7, 7, 7, 7));

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
