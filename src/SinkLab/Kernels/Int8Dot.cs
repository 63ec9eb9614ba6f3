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
    public static int Dot32(ref sbyte a, ref sbyte b) => Dot32(Vector256.LoadUnsafe(ref a), Vector256.LoadUnsafe(ref b));

    /// <summary>Σ a[i]·b[i] over 32 signed bytes held in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot32(Vector256<sbyte> a, Vector256<sbyte> b)
    {
        if (Avx512BW.IsSupported)
            return Vector512.Sum(Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(a), Avx512BW.ConvertToVector512Int16(b)));
        if (Avx2.IsSupported)
        {
            Vector256<int> lo = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(a.GetLower()), Avx2.ConvertToVector256Int16(b.GetLower()));
            Vector256<int> hi = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(a.GetUpper()), Avx2.ConvertToVector256Int16(b.GetUpper()));
            return Vector256.Sum(lo + hi);
        }
        (Vector128<short> al, Vector128<short> ah) = Vector128.Widen(a.GetLower());
        (Vector128<short> bl, Vector128<short> bh) = Vector128.Widen(b.GetLower());
        (Vector128<short> cl, Vector128<short> ch) = Vector128.Widen(a.GetUpper());
        (Vector128<short> dl, Vector128<short> dh) = Vector128.Widen(b.GetUpper());
        return Vector128.Sum(MulWiden(al, bl) + MulWiden(ah, bh) + MulWiden(cl, dl) + MulWiden(ch, dh));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> MulWiden(Vector128<short> a, Vector128<short> b)
    {
        (Vector128<int> a0, Vector128<int> a1) = Vector128.Widen(a);
        (Vector128<int> b0, Vector128<int> b1) = Vector128.Widen(b);
        return a0 * b0 + a1 * b1;
    }

    /// <summary>
    /// A float accumulator for a row of 32-byte blocks: each block's pairwise int16 products (<c>vpmaddwd</c>) stay in
    /// their lanes, are converted to float and added times the block's scale with one fused multiply-add; the lanes
    /// are summed once, at the end. AVX-512BW keeps 16 lanes, AVX2 8; without either, each block's
    /// <see cref="Dot32(Vector256{sbyte}, Vector256{sbyte})"/> is added to a scalar sum.
    /// </summary>
    public struct Accumulator
    {
        private Vector512<float> _a512;
        private Vector256<float> _a256;
        private float _scalar;

        public static Accumulator Zero => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(Vector256<sbyte> a, Vector256<sbyte> b, float scale)
        {
            if (Avx512BW.IsSupported)
            {
                Vector512<int> p = Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(a), Avx512BW.ConvertToVector512Int16(b));
                _a512 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p), Vector512.Create(scale), _a512);
                return;
            }
            if (!Avx2.IsSupported)
            {
                _scalar += Dot32(a, b) * scale;
                return;
            }
            if (!Avx2.IsSupported)
            {
                _scalar += Dot32(a, b) * scale;
                return;
            }
            Vector256<int> lo = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(a.GetLower()), Avx2.ConvertToVector256Int16(b.GetLower()));
            Vector256<int> hi = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(a.GetUpper()), Avx2.ConvertToVector256Int16(b.GetUpper()));
            Vector256<float> f = Avx.ConvertToVector256Single(lo + hi);
            _a256 = Fma.IsSupported ? Fma.MultiplyAdd(f, Vector256.Create(scale), _a256) : _a256 + f * Vector256.Create(scale);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly float Sum() => Avx512BW.IsSupported ? Vector512.Sum(_a512) : Avx2.IsSupported ? Vector256.Sum(_a256) : _scalar;
    }

    /// <summary>A Q4_0 block's 16 packed bytes as 32 signed values (nibble − 8) in ggml's element order:
    /// low nibbles are elements 0-15, high nibbles 16-31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> UnpackQ4(ref byte packed)
    {
        Vector128<byte> q = Vector128.LoadUnsafe(ref packed);
        Vector128<sbyte> eight = Vector128.Create((sbyte)8);
        Vector128<sbyte> lo = (q & Vector128.Create((byte)0x0F)).AsSByte() - eight;
        Vector128<sbyte> hi = Vector128.ShiftRightLogical(q, 4).AsSByte() - eight;
        return Vector256.Create(lo, hi);
    }
}
