using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Row · vector dot products for every weight type, each with a scalar reference next to the SIMD one.
/// Quantized weights (Q8_0, Q4_0) are multiplied with the activation quantized to Q8_0 blocks, as ggml does
/// (<c>ggml_vec_dot_q8_0_q8_0</c>, <c>ggml_vec_dot_q4_0_q8_0</c>): integer dot per block, scaled by both d.
/// </summary>
internal static class DotKernels
{
    // ---- F32 ----
    public static float DotF32(ReadOnlySpan<float> w, ReadOnlySpan<float> x) => TensorPrimitives.Dot(w, x);

    public static float DotF32Scalar(ReadOnlySpan<float> w, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int i = 0; i < w.Length; i++) s += (double)w[i] * x[i];
        return (float)s;
    }

    // ---- F16 ----
    public static float DotF16(ReadOnlySpan<Half> w, ReadOnlySpan<float> x)
    {
        Span<float> tmp = stackalloc float[256];
        float sum = 0;
        for (int i = 0; i < w.Length; i += 256)
        {
            int n = Math.Min(256, w.Length - i);
            TensorPrimitives.ConvertToSingle(w.Slice(i, n), tmp[..n]);
            sum += TensorPrimitives.Dot(tmp[..n], x.Slice(i, n));
        }
        return sum;
    }

    public static float DotF16Scalar(ReadOnlySpan<Half> w, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int i = 0; i < w.Length; i++) s += (double)(float)w[i] * x[i];
        return (float)s;
    }

    // ---- BF16 ----
    /// <summary>bfloat16 row · float vector: each bf16 is the top half of a float, so widening to 32 bits and
    /// shifting left by 16 gives the exact value. One path over <see cref="Vector{T}"/>.</summary>
    public static float DotBf16(ReadOnlySpan<ushort> w, ReadOnlySpan<float> x)
    {
        ref ushort wr = ref MemoryMarshal.GetReference(w);
        ref float xr = ref MemoryMarshal.GetReference(x);
        int n = w.Length, i = 0, lanes = Vector<ushort>.Count;
        Vector<float> acc = Vector<float>.Zero;
        for (; i <= n - lanes; i += lanes)
        {
            Vector.Widen(Vector.LoadUnsafe(ref wr, (nuint)i), out Vector<uint> lo, out Vector<uint> hi);
            acc += Vector.AsVectorSingle(Vector.ShiftLeft(lo, 16)) * Vector.LoadUnsafe(ref xr, (nuint)i);
            acc += Vector.AsVectorSingle(Vector.ShiftLeft(hi, 16)) * Vector.LoadUnsafe(ref xr, (nuint)(i + lanes / 2));
        }
        float sum = Vector.Sum(acc);
        for (; i < n; i++) sum += Quantizer.Bf16ToFloat(w[i]) * x[i];
        return sum;
    }

    public static float DotBf16Scalar(ReadOnlySpan<ushort> w, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int i = 0; i < w.Length; i++) s += (double)Quantizer.Bf16ToFloat(w[i]) * x[i];
        return (float)s;
    }

    // ---- Q8_0 × Q8_0 ----
    public static float DotQ8_0(ReadOnlySpan<BlockQ8_0> w, ReadOnlySpan<BlockQ8_0> x)
    {
        var acc = Int8Dot.Accumulator.Zero;
        for (int b = 0; b < w.Length; b++)
        {
            ref BlockQ8_0 wb = ref Unsafe.AsRef(in w[b]);
            ref BlockQ8_0 xb = ref Unsafe.AsRef(in x[b]);
            acc.Add(Vector256.LoadUnsafe(ref wb.Qs[0]), Vector256.LoadUnsafe(ref xb.Qs[0]), (float)wb.D * (float)xb.D);
        }
        return acc.Sum();
    }

    public static float DotQ8_0Scalar(ReadOnlySpan<BlockQ8_0> w, ReadOnlySpan<BlockQ8_0> x)
    {
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
        {
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += w[b].Qs[j] * x[b].Qs[j];
            sum += isum * ((float)w[b].D * (float)x[b].D);
        }
        return sum;
    }

    // ---- Q4_0 × Q8_0 ----
    public static float DotQ4_0(ReadOnlySpan<BlockQ4_0> w, ReadOnlySpan<BlockQ8_0> x)
    {
        var acc = Int8Dot.Accumulator.Zero;
        for (int b = 0; b < w.Length; b++)
        {
            ref BlockQ4_0 wb = ref Unsafe.AsRef(in w[b]);
            ref BlockQ8_0 xb = ref Unsafe.AsRef(in x[b]);
            acc.Add(Int8Dot.UnpackQ4(ref wb.Qs[0]), Vector256.LoadUnsafe(ref xb.Qs[0]), (float)wb.D * (float)xb.D);
        }
        return acc.Sum();
    }

    public static float DotQ4_0Scalar(ReadOnlySpan<BlockQ4_0> w, ReadOnlySpan<BlockQ8_0> x)
    {
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
        {
            int isum = 0;
            for (int j = 0; j < 16; j++)
            {
                byte q = w[b].Qs[j];
                isum += ((q & 0xF) - 8) * x[b].Qs[j] + ((q >> 4) - 8) * x[b].Qs[j + 16];
            }
            sum += isum * ((float)w[b].D * (float)x[b].D);
        }
        return sum;
    }
}
