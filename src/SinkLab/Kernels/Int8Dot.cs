using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SinkLab.Kernels;

/// <summary>
/// The one SIMD helper for integer dot products of 32 signed bytes (a Q8_0-sized block). The widest path the
/// hardware offers is taken: AVX-512BW (<c>vpmovsxbw</c> + <c>vpmaddwd</c>), AVX2, else portable Vector128.
/// The branches are JIT-time constants, so each process runs one straight-line path.
/// </summary>
internal static class Int8Dot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot32(ref sbyte a, ref sbyte b)
    {
        if (Avx512BW.IsSupported)
        {
            Vector512<short> wa = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref a));
            Vector512<short> wb = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref b));
            return Vector512.Sum(Avx512BW.MultiplyAddAdjacent(wa, wb));
        }
        if (Avx2.IsSupported)
        {
            Vector256<int> lo = Avx2.MultiplyAddAdjacent(
                Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref a)), Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref b)));
            Vector256<int> hi = Avx2.MultiplyAddAdjacent(
                Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref a, 16)), Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref b, 16)));
            return Vector256.Sum(lo + hi);
        }
        Vector128<int> acc = Vector128<int>.Zero;
        for (nuint o = 0; o < 32; o += 16)
        {
            Vector128<sbyte> va = Vector128.LoadUnsafe(ref a, o), vb = Vector128.LoadUnsafe(ref b, o);
            (Vector128<short> al, Vector128<short> ah) = Vector128.Widen(va);
            (Vector128<short> bl, Vector128<short> bh) = Vector128.Widen(vb);
            acc += MulWiden(al, bl) + MulWiden(ah, bh);
        }
        return Vector128.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> MulWiden(Vector128<short> a, Vector128<short> b)
    {
        (Vector128<int> a0, Vector128<int> a1) = Vector128.Widen(a);
        (Vector128<int> b0, Vector128<int> b1) = Vector128.Widen(b);
        return a0 * b0 + a1 * b1;
    }

    /// <summary>Unpacks a Q4_0 block's 16 bytes into 32 signed values (nibble − 8) in ggml's element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackQ4(ref byte packed, ref sbyte dst32)
    {
        Vector128<byte> q = Vector128.LoadUnsafe(ref packed);
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        Vector128<sbyte> eight = Vector128.Create((sbyte)8);
        (q & mask).AsSByte().Subtract(eight).StoreUnsafe(ref dst32);
        Vector128.ShiftRightLogical(q, 4).AsSByte().Subtract(eight).StoreUnsafe(ref dst32, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Subtract(this Vector128<sbyte> a, Vector128<sbyte> b) => a - b;
}
