namespace SinkLab.Analysis;

/// <summary>
/// Massive activations (Sun et al. 2024, "Massive Activations in Large Language Models"): per layer, the three
/// largest |h| in the residual stream (hook_resid_post) with their (sequence, position, channel), and their ratio
/// to the layer's median |h|; flags at 100× and 1000×.
/// </summary>
public sealed class MassiveActivations(int layers)
{
    private readonly List<MassiveValue>[] _top = Enumerable.Range(0, layers).Select(_ => new List<MassiveValue>()).ToArray();
    private readonly List<float>[] _samples = Enumerable.Range(0, layers).Select(_ => new List<float>()).ToArray();

    /// <summary>Adds one sequence's residual stream of a layer, [tokens, dim].</summary>
    public void Add(int layer, int sequence, float[] resid, int dim)
    {
        ArgumentNullException.ThrowIfNull(resid);
        List<MassiveValue> top = _top[layer];
        for (int i = 0; i < resid.Length; i++)
        {
            float a = Math.Abs(resid[i]);
            _samples[layer].Add(a);
            if (top.Count < 3 || a > Math.Abs(top[^1].Value))
            {
                top.Add(new MassiveValue(sequence, i / dim, i % dim, resid[i], 0));
                top.Sort((x, y) => Math.Abs(y.Value).CompareTo(Math.Abs(x.Value)));
                if (top.Count > 3) top.RemoveAt(3);
            }
        }
    }

    /// <summary>One record per layer.</summary>
    public MassiveLayer[] Build()
    {
        var result = new MassiveLayer[_top.Length];
        for (int l = 0; l < _top.Length; l++)
        {
            float[] all = [.. _samples[l]];
            Array.Sort(all);
            double median = all.Length == 0 ? 0 : all.Length % 2 == 1 ? all[all.Length / 2] : 0.5 * (all[all.Length / 2 - 1] + all[all.Length / 2]);
            double Ratio(double v) => median > 0 ? Math.Abs(v) / median : double.PositiveInfinity;
            MassiveValue[] top = _top[l].Select(v => v with { Ratio = Ratio(v.Value) }).ToArray();
            double r = top.Length > 0 ? top[0].Ratio : 0;
            result[l] = new MassiveLayer(l, top, median, r, r > 100, r > 1000);
        }
        return result;
    }
}
