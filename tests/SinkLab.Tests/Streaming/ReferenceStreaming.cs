using SinkLab.Tests.Models;

namespace SinkLab.Tests.Streaming;

/// <summary>
/// A literal, float64 StreamingLLM / context-shift cache, sharing nothing with the engine's cache: one token per step;
/// every layer keeps a list of (key before RoPE, value, stream position); after each step the sink policy keeps the
/// first S and the last W entries, and the shift policy (before a step, when the list holds C entries) drops the older
/// half of the entries after the first K. At read time every key is rotated at its index in the list (its position
/// inside the cache) or, with original positions, at its stream position; the query at its own index likewise.
/// </summary>
internal static class ReferenceStreaming
{
    public sealed record Policy(int Sinks, int Window, bool Original = false, int ShiftCapacity = 0);

    private sealed record Entry(double[] K, double[] V, long Position);

    /// <summary>Next-token logits after each token of <paramref name="tokens"/> (softmax or sink-logit fixtures).</summary>
    public static double[][] Logits(FixtureModel m, int[] tokens, Policy p)
    {
        int d = m.Dim, hd = m.HeadDim, kvDim = m.KvDim, group = m.Heads / m.KvHeads;
        var cache = Enumerable.Range(0, m.Layers).Select(_ => new List<Entry>()).ToArray();
        var result = new double[tokens.Length][];
        for (int n = 0; n < tokens.Length; n++)
        {
            if (p.ShiftCapacity > 0 && cache[0].Count == p.ShiftCapacity)
                foreach (List<Entry> c in cache) c.RemoveRange(p.Sinks, (c.Count - p.Sinks) / 2);
            var x = new double[d];
            for (int i = 0; i < d; i++) x[i] = m.Embedding[tokens[n] * d + i];
            for (int l = 0; l < m.Layers; l++)
            {
                double[] xn = ReferenceForward.RmsNorm(x, m.AttnNorm[l], m.RmsEps);
                double[] q = ReferenceForward.MatVec(m.Wq[l], d, d, xn);
                cache[l].Add(new Entry(ReferenceForward.MatVec(m.Wk[l], kvDim, d, xn), ReferenceForward.MatVec(m.Wv[l], kvDim, d, xn), n));
                List<Entry> c = cache[l];
                long Pos(int index) => p.Original ? c[index].Position : index;
                ReferenceForward.Rope(q, m.Heads, hd, Pos(c.Count - 1), m);
                var keys = new double[c.Count][];
                for (int j = 0; j < c.Count; j++)
                {
                    keys[j] = (double[])c[j].K.Clone();
                    ReferenceForward.Rope(keys[j], m.KvHeads, hd, Pos(j), m);
                }
                var att = new double[d];
                for (int h = 0; h < m.Heads; h++)
                {
                    int kvh = h / group;
                    var w = new double[c.Count];
                    double max = m.Variant == "sink-logit" ? m.Sinks[l][h] : double.NegativeInfinity;
                    for (int j = 0; j < c.Count; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[h * hd + i] * keys[j][kvh * hd + i];
                        w[j] = dot / Math.Sqrt(hd);
                        max = Math.Max(max, w[j]);
                    }
                    double sum = m.Variant == "sink-logit" ? Math.Exp(m.Sinks[l][h] - max) : 0;
                    for (int j = 0; j < c.Count; j++) { w[j] = Math.Exp(w[j] - max); sum += w[j]; }
                    for (int j = 0; j < c.Count; j++)
                        for (int i = 0; i < hd; i++) att[h * hd + i] += w[j] / sum * c[j].V[kvh * hd + i];
                }
                double[] o = ReferenceForward.MatVec(m.Wo[l], d, d, att);
                for (int i = 0; i < d; i++) x[i] += o[i];
                double[] xf = ReferenceForward.RmsNorm(x, m.FfnNorm[l], m.RmsEps);
                double[] g = ReferenceForward.MatVec(m.Gate[l], m.Hidden, d, xf), u = ReferenceForward.MatVec(m.Up[l], m.Hidden, d, xf);
                for (int i = 0; i < m.Hidden; i++) g[i] = g[i] / (1 + Math.Exp(-g[i])) * u[i];
                double[] f = ReferenceForward.MatVec(m.Down[l], d, m.Hidden, g);
                for (int i = 0; i < d; i++) x[i] += f[i];
            }
            result[n] = ReferenceForward.MatVec(m.Output, m.Vocab, d, ReferenceForward.RmsNorm(x, m.OutputNorm, m.RmsEps));
            if (p.ShiftCapacity == 0)
                foreach (List<Entry> c in cache)
                    if (c.Count > p.Sinks + p.Window) c.RemoveRange(p.Sinks, c.Count - p.Sinks - p.Window);
        }
        return result;
    }
}
