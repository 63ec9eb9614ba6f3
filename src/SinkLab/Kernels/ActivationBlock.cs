using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// 32 activations quantized to signed bytes for the integer dot products of every quantized weight type
/// (ggml's Q8_0 / Q8_1 roles in one): <c>x ≈ D · q</c>, with Σq kept so that types with a min (Q4_1, Q5_1, Q4_K,
/// Q5_K) add it once per block instead of per weight.
/// D is rounded to half precision as ggml's Q8_0 stores it, so Q8_0 and Q4_0 products equal llama.cpp's bit for bit.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct ActivationBlock
{
    public const int Elements = 32;
    public float D;
    public int Sum;      // Σ q
    public int Offset;   // −16·Σq: eight lanes of it cancel the 128·Σq that weights offset by +128 add in vpdpbusd
    public BlockQ8_0.Quants32 Qs;

    /// <summary>ggml's x86 <c>quantize_row_q8_0</c> (the AVX path llama.cpp runs on this CPU): d = max|x| / 127 stored as
    /// half, q = round-half-even(x · 127 / max|x|).</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<ActivationBlock> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * Elements, Elements);
            float amax = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(xs));
            float d = amax / 127f, id = amax != 0 ? 127f / amax : 0f;
            ref ActivationBlock blk = ref y[b];
            blk.D = (float)(Half)d;
            (int lo, int hi) = Round32(xs, id, blk.Qs);
            blk.Sum = lo + hi;
            blk.Offset = -16 * blk.Sum;
        }
    }

    /// <summary>q[j] = round-half-even(x[j]·s) for 32 values in registers (<c>_mm256_round_ps</c> with
    /// <c>_MM_ROUND_NEAREST</c>, and ggml's <c>nearest_int</c>); returns Σq of elements 0-15 and 16-31.
    /// |x·s| ≤ 127, so narrowing to bytes never saturates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Lo, int Hi) Round32(ReadOnlySpan<float> x, float scale, Span<sbyte> q)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        Vector256<float> s = Vector256.Create(scale);
        Vector256<int> i0 = RoundEven(Vector256.LoadUnsafe(ref xr) * s), i1 = RoundEven(Vector256.LoadUnsafe(ref xr, 8) * s);
        Vector256<int> i2 = RoundEven(Vector256.LoadUnsafe(ref xr, 16) * s), i3 = RoundEven(Vector256.LoadUnsafe(ref xr, 24) * s);
        Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).StoreUnsafe(ref MemoryMarshal.GetReference(q));
        return (Vector256.Sum(i0 + i1), Vector256.Sum(i2 + i3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> RoundEven(Vector256<float> v) => Vector256.ConvertToInt32(Vector256.Round(v));

    /// <summary>The activations these blocks stand for (D · q).</summary>
    public static void Dequantize(ReadOnlySpan<ActivationBlock> x, Span<double> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (double)x[i / Elements].D * x[i / Elements].Qs[i % Elements];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe sbyte* QsOf(ActivationBlock* b) => (sbyte*)b + 12;
}

/// <summary>
/// 256 activations quantized to signed bytes with one scale (ggml's Q8_K role), for the K-quant kernels: with a
/// single activation scale per super-block, each sub-block's integer dot is multiplied by its integer weight scale
/// and summed in int32 across the super-block, and only one float conversion and multiply-add per 256 weights remain.
/// <see cref="Sums"/> holds Σq of each 32-element sub-block for the mins of Q4_K and Q5_K, <see cref="Sums16"/> Σq of
/// each 16 for Q6_K's −32 offset (scaled per 16).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct ActivationSuperBlock
{
    public const int Elements = 256;
    public float D;
    public Sums8 Sums;
    public Sums16x Sums16;
    public Quants256 Qs;

    [InlineArray(8)] public struct Sums8 { private int _e0; }
    [InlineArray(16)] public struct Sums16x { private int _e0; }
    [InlineArray(256)] public struct Quants256 { private sbyte _e0; }

    /// <summary>ggml's <c>quantize_row_q8_K_ref</c> (what llama.cpp runs on x86 too): with m the value of largest
    /// magnitude (first of equals), s = −127 / m, q = round-half-even(x·s), D = 1 / s (negative when m is positive).</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<ActivationSuperBlock> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * Elements, Elements);
            ref ActivationSuperBlock blk = ref y[b];
            float max = LargestMagnitude(xs);
            float iscale = max != 0 ? -127f / max : 0f;
            blk.D = max != 0 ? 1f / iscale : 0f;
            Span<sbyte> qs = blk.Qs;
            for (int j = 0; j < 8; j++)
            {
                (int sum0, int sum1) = ActivationBlock.Round32(xs.Slice(32 * j, 32), iscale, qs.Slice(32 * j, 32));
                blk.Sums[j] = sum0 + sum1;
                blk.Sums16[2 * j] = sum0;
                blk.Sums16[2 * j + 1] = sum1;
            }
        }
    }

    /// <summary>The signed value of largest magnitude, the first one on ties (ggml's strict <c>ax &gt; amax</c> scan).</summary>
    private static float LargestMagnitude(ReadOnlySpan<float> xs)
    {
        float amax = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(xs));
        if (amax == 0) return 0;
        Vector256<float> target = Vector256.Create(amax);
        ref float r0 = ref MemoryMarshal.GetReference(xs);
        int i = 0;
        for (; i <= xs.Length - 8; i += 8)
        {
            uint hit = Vector256.Equals(Vector256.Abs(Vector256.LoadUnsafe(ref r0, (nuint)i)), target).ExtractMostSignificantBits();
            if (hit != 0) return xs[i + System.Numerics.BitOperations.TrailingZeroCount(hit)];
        }
        for (; i < xs.Length; i++) if (MathF.Abs(xs[i]) == amax) return xs[i];
        return amax;   // NaN input: keep it (the product is NaN either way)
    }

    /// <summary>The activations these blocks stand for (D · q).</summary>
    public static void Dequantize(ReadOnlySpan<ActivationSuperBlock> x, Span<double> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (double)x[i / Elements].D * x[i / Elements].Qs[i % Elements];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe sbyte* QsOf(ActivationSuperBlock* b) => (sbyte*)b + 100;
}
