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
            for (int d = 0; d < hd; d++) acc = Vector.FusedMultiplyAdd(new Vector<float>(q[d]), Vector.Load(keysT + (long)d * ctx + p), acc);
            Vector.Store(acc * scale, scores + p);
        }
        for (; p < count; p++)
        {
            float s = 0;
            for (int d = 0; d < hd; d++) s = MathF.FusedMultiplyAdd(q[d], keysT[(long)d * ctx + p], s);
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
                Put(o + d, Rest(weights, values + d, hd, 0, count, default, default, default, default), accumulate);
            return;
        }
        WeightedSumScalar(weights, values, hd, count, o, accumulate);
    }

    /// <summary><see cref="Scores"/> for four queries at once (query i at q + i·<paramref name="qStride"/>, its scores at
    /// scores + i·<paramref name="scoreStride"/>) over the same keys: each key vector is loaded once for the four, and
    /// eight accumulators (four queries × two vectors of positions) keep the multiply-adds from waiting on one another —
    /// the single-query loop is one chain of head-dim dependent multiply-adds per vector of scores. For prefill, where
    /// consecutive tokens of a head see (almost) the same keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores4(float* q, int qStride, float* keysT, int ctx, int hd, int count, float scale, float* scores, int scoreStride)
    {
        int w = Vector<float>.Count, p = 0;
        float* q1 = q + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        float* s1 = scores + scoreStride, s2 = s1 + scoreStride, s3 = s2 + scoreStride;
        for (; p <= count - 2 * w; p += 2 * w)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            for (int d = 0; d < hd; d++)
            {
                float* k = keysT + (long)d * ctx + p;
                Vector<float> k0 = Vector.Load(k), k1 = Vector.Load(k + w);
                var x0 = new Vector<float>(q[d]); a0 = Vector.FusedMultiplyAdd(x0, k0, a0); b0 = Vector.FusedMultiplyAdd(x0, k1, b0);
                var x1 = new Vector<float>(q1[d]); a1 = Vector.FusedMultiplyAdd(x1, k0, a1); b1 = Vector.FusedMultiplyAdd(x1, k1, b1);
                var x2 = new Vector<float>(q2[d]); a2 = Vector.FusedMultiplyAdd(x2, k0, a2); b2 = Vector.FusedMultiplyAdd(x2, k1, b2);
                var x3 = new Vector<float>(q3[d]); a3 = Vector.FusedMultiplyAdd(x3, k0, a3); b3 = Vector.FusedMultiplyAdd(x3, k1, b3);
            }
            Vector.Store(a0 * scale, scores + p); Vector.Store(b0 * scale, scores + p + w);
            Vector.Store(a1 * scale, s1 + p); Vector.Store(b1 * scale, s1 + p + w);
            Vector.Store(a2 * scale, s2 + p); Vector.Store(b2 * scale, s2 + p + w);
            Vector.Store(a3 * scale, s3 + p); Vector.Store(b3 * scale, s3 + p + w);
        }
        if (p < count)
        {
            Scores(q, keysT + p, ctx, hd, count - p, scale, scores + p);
            Scores(q1, keysT + p, ctx, hd, count - p, scale, s1 + p);
            Scores(q2, keysT + p, ctx, hd, count - p, scale, s2 + p);
            Scores(q3, keysT + p, ctx, hd, count - p, scale, s3 + p);
        }
    }

    /// <summary><see cref="WeightedSum"/> for four weight rows (row i at weights + i·<paramref name="weightStride"/>,
    /// <paramref name="counts"/>[i] positions, its output at o + i·<paramref name="oStride"/>) over the same values:
    /// up to the shortest count each value vector is loaded once for the four; then each row goes on alone. Every row
    /// keeps <see cref="WeightedSum"/>'s own four accumulators (position mod 4, the rest into the first) and sums them
    /// the same way, so each output is bit for bit what <see cref="WeightedSum"/> gives: results do not depend on how a
    /// batch happens to fall into tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum4(float* weights, int weightStride, float* values, int hd, int* counts, float* o, int oStride, bool accumulate = false)
    {
        int w = Vector<float>.Count;
        if (hd % w != 0)
        {
            for (int i = 0; i < 4; i++) WeightedSumScalar(weights + i * weightStride, values, hd, counts[i], o + i * oStride, accumulate);
            return;
        }
        float* w1 = weights + weightStride, w2 = w1 + weightStride, w3 = w2 + weightStride;
        int common = Math.Min(Math.Min(counts[0], counts[1]), Math.Min(counts[2], counts[3])) / 4 * 4;
        for (int d = 0; d < hd; d += w)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            Vector<float> c0 = default, c1 = default, c2 = default, c3 = default, e0 = default, e1 = default, e2 = default, e3 = default;
            float* v = values + d;
            for (int p = 0; p < common; p += 4)
            {
                Vector<float> v0 = Vector.Load(v + (long)p * hd), v1 = Vector.Load(v + (long)(p + 1) * hd),
                    v2 = Vector.Load(v + (long)(p + 2) * hd), v3 = Vector.Load(v + (long)(p + 3) * hd);
                a0 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p]), v0, a0); a1 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p + 1]), v1, a1);
                a2 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p + 2]), v2, a2); a3 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p + 3]), v3, a3);
                b0 = Vector.FusedMultiplyAdd(new Vector<float>(w1[p]), v0, b0); b1 = Vector.FusedMultiplyAdd(new Vector<float>(w1[p + 1]), v1, b1);
                b2 = Vector.FusedMultiplyAdd(new Vector<float>(w1[p + 2]), v2, b2); b3 = Vector.FusedMultiplyAdd(new Vector<float>(w1[p + 3]), v3, b3);
                c0 = Vector.FusedMultiplyAdd(new Vector<float>(w2[p]), v0, c0); c1 = Vector.FusedMultiplyAdd(new Vector<float>(w2[p + 1]), v1, c1);
                c2 = Vector.FusedMultiplyAdd(new Vector<float>(w2[p + 2]), v2, c2); c3 = Vector.FusedMultiplyAdd(new Vector<float>(w2[p + 3]), v3, c3);
                e0 = Vector.FusedMultiplyAdd(new Vector<float>(w3[p]), v0, e0); e1 = Vector.FusedMultiplyAdd(new Vector<float>(w3[p + 1]), v1, e1);
                e2 = Vector.FusedMultiplyAdd(new Vector<float>(w3[p + 2]), v2, e2); e3 = Vector.FusedMultiplyAdd(new Vector<float>(w3[p + 3]), v3, e3);
            }
            Put(o + d, Rest(weights, v, hd, common, counts[0], a0, a1, a2, a3), accumulate);
            Put(o + oStride + d, Rest(w1, v, hd, common, counts[1], b0, b1, b2, b3), accumulate);
            Put(o + 2 * oStride + d, Rest(w2, v, hd, common, counts[2], c0, c1, c2, c3), accumulate);
            Put(o + 3 * oStride + d, Rest(w3, v, hd, common, counts[3], e0, e1, e2, e3), accumulate);
        }
    }

    /// <summary>One row's positions [p, count) into its four accumulators as <see cref="WeightedSum"/> assigns them, and
    /// their sum in its order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Rest(float* weights, float* v, int hd, int p, int count, Vector<float> a0, Vector<float> a1, Vector<float> a2, Vector<float> a3)
    {
        for (; p <= count - 4; p += 4)
        {
            a0 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p]), Vector.Load(v + (long)p * hd), a0);
            a1 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p + 1]), Vector.Load(v + (long)(p + 1) * hd), a1);
            a2 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p + 2]), Vector.Load(v + (long)(p + 2) * hd), a2);
            a3 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p + 3]), Vector.Load(v + (long)(p + 3) * hd), a3);
        }
        for (; p < count; p++) a0 = Vector.FusedMultiplyAdd(new Vector<float>(weights[p]), Vector.Load(v + (long)p * hd), a0);
        return (a0 + a1) + (a2 + a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* o, Vector<float> sum, bool accumulate) => Vector.Store(accumulate ? sum + Vector.Load(o) : sum, o);

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
