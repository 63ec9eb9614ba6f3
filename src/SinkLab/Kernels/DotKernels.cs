using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;

namespace SinkLab.Kernels;

/// <summary>
/// Row · vector dot products for the float weight types (F32, F16, BF16), each with a scalar reference next to the
/// SIMD one. Quantized types are in <see cref="QuantDot"/>.
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
}
