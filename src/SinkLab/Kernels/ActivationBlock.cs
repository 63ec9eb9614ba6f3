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
    public BlockQ8_0.Quants32 Qs;

    /// <summary>ggml's <c>quantize_row_q8_0</c> rounding: d = max|x| / 127, q = round-half-away(x / d).</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<ActivationBlock> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * Elements, Elements);
            float amax = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(xs));
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            ref ActivationBlock blk = ref y[b];
            blk.D = (float)(Half)d;
            (int lo, int hi) = Round32(xs, id, blk.Qs);
            blk.Sum = lo + hi;
        }
    }

    /// <summary>q[j] = round-half-away(x[j]·id) for 32 values in registers, exactly as
    /// <c>MathF.Round(v, MidpointRounding.AwayFromZero)</c> computes it (truncate v + copysign(0.49999997, v)); returns
    /// Σq of elements 0-15 and 16-31. |x·id| ≤ 127, so narrowing to bytes never saturates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Lo, int Hi) Round32(ReadOnlySpan<float> x, float id, Span<sbyte> q)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        Vector256<float> s = Vector256.Create(id), half = Vector256.Create(0.49999997f);
        Vector256<int> i0 = RoundAway(Vector256.LoadUnsafe(ref xr) * s, half), i1 = RoundAway(Vector256.LoadUnsafe(ref xr, 8) * s, half);
        Vector256<int> i2 = RoundAway(Vector256.LoadUnsafe(ref xr, 16) * s, half), i3 = RoundAway(Vector256.LoadUnsafe(ref xr, 24) * s, half);
        Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).StoreUnsafe(ref MemoryMarshal.GetReference(q));
        return (Vector256.Sum(i0 + i1), Vector256.Sum(i2 + i3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> RoundAway(Vector256<float> v, Vector256<float> half) =>
        Vector256.ConvertToInt32(Vector256.Truncate(v + Vector256.CopySign(half, v)));

    /// <summary>The activations these blocks stand for (D · q).</summary>
    public static void Dequantize(ReadOnlySpan<ActivationBlock> x, Span<double> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (double)x[i / Elements].D * x[i / Elements].Qs[i % Elements];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe sbyte* QsOf(ActivationBlock* b) => (sbyte*)b + 8;
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

    /// <summary>d = max|x| / 127, q = round-half-away(x / d), per 256.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<ActivationSuperBlock> y)
    {
        for (int b = 0; b < y.Length; b++)
        {
            ReadOnlySpan<float> xs = x.Slice(b * Elements, Elements);
            float amax = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(xs);
            amax = MathF.Abs(amax);
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            ref ActivationSuperBlock blk = ref y[b];
            blk.D = d;
            Span<sbyte> qs = blk.Qs;
            for (int j = 0; j < 8; j++)
            {
                (int sum0, int sum1) = ActivationBlock.Round32(xs.Slice(32 * j, 32), id, qs.Slice(32 * j, 32));
                blk.Sums[j] = sum0 + sum1;
                blk.Sums16[2 * j] = sum0;
                blk.Sums16[2 * j + 1] = sum1;
            }
        }
    }

    /// <summary>The activations these blocks stand for (D · q).</summary>
    public static void Dequantize(ReadOnlySpan<ActivationSuperBlock> x, Span<double> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (double)x[i / Elements].D * x[i / Elements].Qs[i % Elements];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe sbyte* QsOf(ActivationSuperBlock* b) => (sbyte*)b + 100;
}
