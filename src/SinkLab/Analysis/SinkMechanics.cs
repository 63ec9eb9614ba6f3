using System.Numerics.Tensors;

namespace SinkLab.Analysis;

/// <summary>
/// How a first-token sink is built: per layer and KV head, ‖k_0‖ and ‖v_0‖ against the mean over the other tokens;
/// per query head, the mean cosine between queries q_t (t ≥ 1) and k_0, against their mean cosine with the other
/// visible keys k_s (1 ≤ s ≤ t). Keys are taken after RoPE (hook_k).
/// </summary>
public sealed class SinkMechanics(int layers, int heads, int kvHeads, int headDim)
{
    private readonly double[,] _k0 = new double[layers, kvHeads], _kOther = new double[layers, kvHeads];
    private readonly double[,] _v0 = new double[layers, kvHeads], _vOther = new double[layers, kvHeads];
    private readonly double[,] _cos0 = new double[layers, heads], _cosOther = new double[layers, heads];
    private int _n;

    /// <summary>Adds one sequence's q [T, heads, hd], k and v [T, kvHeads, hd] of a layer.</summary>
    public void Add(int layer, float[] q, float[] k, float[] v, int tokens)
    {
        int hd = headDim, group = heads / kvHeads;
        for (int g = 0; g < kvHeads; g++)
        {
            double ko = 0, vo = 0;
            for (int t = 1; t < tokens; t++)
            {
                ko += TensorPrimitives.Norm(k.AsSpan((t * kvHeads + g) * hd, hd));
                vo += TensorPrimitives.Norm(v.AsSpan((t * kvHeads + g) * hd, hd));
            }
            _k0[layer, g] += TensorPrimitives.Norm(k.AsSpan(g * hd, hd));
            _v0[layer, g] += TensorPrimitives.Norm(v.AsSpan(g * hd, hd));
            _kOther[layer, g] += ko / (tokens - 1);
            _vOther[layer, g] += vo / (tokens - 1);
        }
        for (int h = 0; h < heads; h++)
        {
            int g = h / group;
            ReadOnlySpan<float> k0 = k.AsSpan(g * hd, hd);
            double c0 = 0, cOther = 0;
            int nOther = 0;
            for (int t = 1; t < tokens; t++)
            {
                ReadOnlySpan<float> qt = q.AsSpan((t * heads + h) * hd, hd);
                c0 += TensorPrimitives.CosineSimilarity(qt, k0);
                for (int s = 1; s <= t; s++) { cOther += TensorPrimitives.CosineSimilarity(qt, k.AsSpan((s * kvHeads + g) * hd, hd)); nOther++; }
            }
            _cos0[layer, h] += c0 / (tokens - 1);
            _cosOther[layer, h] += nOther > 0 ? cOther / nOther : 0;
        }
        if (layer == 0) _n++;
    }

    /// <summary>One record per layer (means over the sequences added).</summary>
    public MechanicsLayer[] Build()
    {
        double n = Math.Max(1, _n);
        double[] Row(double[,] a, int l) => Enumerable.Range(0, a.GetLength(1)).Select(i => a[l, i] / n).ToArray();
        return Enumerable.Range(0, layers).Select(l => new MechanicsLayer(l, Row(_k0, l), Row(_kOther, l), Row(_v0, l), Row(_vOther, l),
            Row(_cos0, l), Row(_cosOther, l))).ToArray();
    }
}
