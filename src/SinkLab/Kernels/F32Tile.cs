using System.Numerics;
using System.Runtime.CompilerServices;

namespace SinkLab.Kernels;

/// <summary>
/// F32 weight row × up to four activation rows at once: the weight chunk is loaded once per four tokens.
/// Written once over <see cref="Vector{T}"/>, which the JIT maps to the widest enabled vector unit.
/// </summary>
internal static unsafe class F32Tile
{
    /// <summary>y[j·yStride] = w · x_j for j in [0, count), count ≤ 4, x_j = x + j·xStride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot4(float* w, float* x, long xStride, int cols, int count, float* y, long yStride)
    {
        int width = Vector<float>.Count, i = 0;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float* x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        if (count == 4)
        {
            for (; i <= cols - width; i += width)
            {
                var wv = Vector.Load(w + i);
                a0 += wv * Vector.Load(x0 + i);
                a1 += wv * Vector.Load(x1 + i);
                a2 += wv * Vector.Load(x2 + i);
                a3 += wv * Vector.Load(x3 + i);
            }
            float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
            for (; i < cols; i++) { s0 += w[i] * x0[i]; s1 += w[i] * x1[i]; s2 += w[i] * x2[i]; s3 += w[i] * x3[i]; }
            y[0] = s0; y[yStride] = s1; y[2 * yStride] = s2; y[3 * yStride] = s3;
            return;
        }
        for (int j = 0; j < count; j++)
        {
            float* xj = x + j * xStride;
            Vector<float> acc = default;
            for (i = 0; i <= cols - width; i += width) acc += Vector.Load(w + i) * Vector.Load(xj + i);
            float s = Vector.Sum(acc);
            for (; i < cols; i++) s += w[i] * xj[i];
            y[j * yStride] = s;
        }
    }
}
