using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SinkLab.Kernels;

/// <summary>
/// Integer dot products of 32 bytes (one quantized block against one <see cref="ActivationBlock"/>), the inner
/// operation of every quantized kernel. The result is eight int32 lanes of which lanes 0-3 add up to the products of
/// elements 0-15 and lanes 4-7 to those of elements 16-31 (Q6_K scales each half on its own).
/// Paths, chosen at JIT time: AVX-VNNI <c>vpdpbusd</c>; AVX2 <c>vpmaddubsw</c> + <c>vpmaddwd</c> (ggml's path; the
/// int16 stage cannot saturate because unsigned operands stay below 128 or signed ones above −128); else portable
/// <see cref="Vector128"/> widening.
/// </summary>
internal static class Int8Dot
{
    /// <summary>Σ u·s with u unsigned (0-255 for VNNI, 0-127 elsewhere: quant values of at most 7 bits) and s signed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotUnsigned(Vector256<byte> u, Vector256<sbyte> s)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
        if (Avx2.IsSupported) return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
        return Vector256.Create(Half16(u.GetLower().AsSByte(), s.GetLower(), true), Half16(u.GetUpper().AsSByte(), s.GetUpper(), true));
    }

    /// <summary>Σ a·b over signed bytes; b must not hold −128 (activations never do: |q| ≤ 127).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotSigned(Vector256<sbyte> a, Vector256<sbyte> b) => DotSigned(a, Abs(a), b);

    /// <summary><see cref="DotSigned(Vector256{sbyte}, Vector256{sbyte})"/> with |a| computed once by the caller
    /// (<see cref="Abs"/>), for kernels that dot one weight block with several activation blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotSigned(Vector256<sbyte> a, Vector256<byte> absA, Vector256<sbyte> b)
    {
        if (Avx2.IsSupported) return DotUnsigned(absA, Avx2.Sign(b, a));
        return Vector256.Create(Half16(a.GetLower(), b.GetLower(), false), Half16(a.GetUpper(), b.GetUpper(), false));
    }

    /// <summary>|a| as unsigned bytes (the operand <see cref="DotSigned(Vector256{sbyte}, Vector256{byte}, Vector256{sbyte})"/> takes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Abs(Vector256<sbyte> a) => Avx2.IsSupported ? Avx2.Abs(a) : Vector256.Abs(a).AsByte();

    /// <summary>Portable path: 16 products widened to int32, folded to four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Half16(Vector128<sbyte> a, Vector128<sbyte> b, bool aUnsigned)
    {
        Vector128<short> a0, a1;
        if (aUnsigned)
        {
            (Vector128<ushort> u0, Vector128<ushort> u1) = Vector128.Widen(a.AsByte());
            (a0, a1) = (u0.AsInt16(), u1.AsInt16());
        }
        else (a0, a1) = Vector128.Widen(a);
        (Vector128<short> b0, Vector128<short> b1) = Vector128.Widen(b);
        (Vector128<int> p0, Vector128<int> p1) = Vector128.Widen(a0 * b0);   // |u·s| ≤ 255·128 fits in int16 only
        (Vector128<int> p2, Vector128<int> p3) = Vector128.Widen(a1 * b1);   // for u < 256, s ≥ −128: 32,640 ✓
        return p0 + p1 + p2 + p3;
    }

    /// <summary>A Q4 block's 16 packed bytes as 32 unsigned nibbles in ggml's order (low nibbles are elements
    /// 0-15, high nibbles 16-31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> UnpackNibbles(ref byte packed)
    {
        Vector128<byte> q = Vector128.LoadUnsafe(ref packed);
        return Vector256.Create(q & Vector128.Create((byte)0x0F), Vector128.ShiftRightLogical(q, 4));
    }

    /// <summary>The fifth bits of a Q5_0/Q5_1 block as 0x10 in byte j where bit j of <paramref name="qh"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBits(uint qh)
    {
        // Byte j takes byte j/8 of qh (in-lane shuffle of the broadcast), then tests its bit j%8.
        Vector256<byte> spread = Vector256.Shuffle(Vector256.Create(qh).AsByte(),
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19));
        Vector256<byte> bit = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(spread & bit, bit) & Vector256.Create((byte)0x10);
    }
}
