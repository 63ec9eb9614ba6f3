using System.Numerics;
using System.Runtime.CompilerServices;

namespace SinkLab.Kernels;

/// <summary>
/// Attention inner loops for one head over the KV cache layout of <see cref="Inference.InferenceSession"/>:
/// keys transposed (<c>[dim][position]</c>, so a vector of scores is a sum of broadcasts × contiguous loads) and
/// values by position (<c>[position][dim]</c>). Written once over <see cref="Vector{T}"/>; scalar references beside
/// them. (Transposed values were slower; docs/benchmarks.md records the decision.)
/// </summary>
internal static unsafe class HeadOps
{
    /// <summary>scores[p] = scale · Σ_d q[d] · keysT[d·ctx + p], for p in [0, count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores(float* q, float* keysT, int ctx, int hd, int count, float scale, float* scores)
    {
        int w = Vector<float>.Count, p = 0;
        for (; p <= count - w; p += w)
        {
            Vector<float> acc = default;
            for (int d = 0; d < hd; d++) acc += new Vector<float>(q[d]) * Vector.Load(keysT + (long)d * ctx + p);
            Vector.Store(acc * scale, scores + p);
        }
        for (; p < count; p++)
        {
            float s = 0;
            for (int d = 0; d < hd; d++) s += q[d] * keysT[(long)d * ctx + p];
            scores[p] = s * scale;
        }
    }

    /// <summary>o[d] = Σ_p weights[p] · values[p·hd + d] (values stored by position), or o[d] += that sum when
    /// <paramref name="accumulate"/> (attention over several cache segments). Four positions at a time, each with its
    /// own accumulator, so the multiply-adds do not wait on one another.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(float* weights, float* values, int hd, int count, float* o, bool accumulate = false)
    {
        int w = Vector<float>.Count;
        if (hd % w == 0)
        {
            for (int d = 0; d < hd; d += w)
            {
                Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* v = values + d;
                int p = 0;
                for (; p <= count - 4; p += 4)
                {
                    a0 += new Vector<float>(weights[p]) * Vector.Load(v + (long)p * hd);
                    a1 += new Vector<float>(weights[p + 1]) * Vector.Load(v + (long)(p + 1) * hd);
                    a2 += new Vector<float>(weights[p + 2]) * Vector.Load(v + (long)(p + 2) * hd);
                    a3 += new Vector<float>(weights[p + 3]) * Vector.Load(v + (long)(p + 3) * hd);
                }
                for (; p < count; p++) a0 += new Vector<float>(weights[p]) * Vector.Load(v + (long)p * hd);
                Vector<float> sum = (a0 + a1) + (a2 + a3);
                Vector.Store(accumulate ? sum + Vector.Load(o + d) : sum, o + d);
            }
            return;
        }
        WeightedSumScalar(weights, values, hd, count, o, accumulate);
    }

    /// <summary>Scalar reference of <see cref="Scores"/>.</summary>
    public static void ScoresScalar(float* q, float* keysT, int ctx, int hd, int count, float scale, float* scores)
    {
        for (int p = 0; p < count; p++)
        {
            double s = 0;
            for (int d = 0; d < hd; d++) s += (double)q[d] * keysT[(long)d * ctx + p];
            scores[p] = (float)s * scale;
        }
    }

    /// <summary>Scalar reference of <see cref="WeightedSum"/>.</summary>
    public static void WeightedSumScalar(float* weights, float* values, int hd, int count, float* o, bool accumulate = false)
    {
        for (int d = 0; d < hd; d++)
        {
            double s = 0;
            for (int p = 0; p < count; p++) s += (double)weights[p] * values[(long)p * hd + d];
            o[d] = accumulate ? o[d] + (float)s : (float)s;
        }
    }
}
