namespace SinkLab.Tests.Models;

/// <summary>
/// An independent, deliberately plain float64 forward pass of the llama graph (no KV cache, no SIMD, no shared
/// code with the engine): the whole sequence recomputed, RoPE from the formula, causal softmax attention.
/// </summary>
internal static class ReferenceForward
{
    public static double[][] Logits(FixtureModel m, int[] tokens)
    {
        int n = tokens.Length, d = m.Dim, hd = m.HeadDim, kvDim = m.KvDim, group = m.Heads / m.KvHeads;
        var x = new double[n][];
        for (int t = 0; t < n; t++) { x[t] = new double[d]; for (int i = 0; i < d; i++) x[t][i] = m.Embedding[tokens[t] * d + i]; }
        for (int l = 0; l < m.Layers; l++)
        {
            var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
            for (int t = 0; t < n; t++)
            {
                double[] xn = RmsNorm(x[t], m.AttnNorm[l], m.RmsEps);
                q[t] = MatVec(m.Wq[l], d, d, xn); k[t] = MatVec(m.Wk[l], kvDim, d, xn); v[t] = MatVec(m.Wv[l], kvDim, d, xn);
                if (m.Arch == "qwen2")
                {
                    for (int i = 0; i < d; i++) q[t][i] += m.BiasQ[l][i];
                    for (int i = 0; i < kvDim; i++) { k[t][i] += m.BiasK[l][i]; v[t][i] += m.BiasV[l][i]; }
                }
                Rope(q[t], m.Heads, hd, t, m); Rope(k[t], m.KvHeads, hd, t, m);
            }
            for (int t = 0; t < n; t++)
            {
                var att = new double[d];
                for (int h = 0; h < m.Heads; h++)
                {
                    int kvh = h / group;
                    var s = new double[t + 1];
                    double max = double.NegativeInfinity;
                    for (int p = 0; p <= t; p++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[p][kvh * hd + i];
                        s[p] = dot / Math.Sqrt(hd);
                        max = Math.Max(max, s[p]);
                    }
                    // Attention weights per variant: softmax (with an extra dropped logit for softmax1 / sink logits),
                    // or sigmoid(score + b) without normalisation.
                    var w = new double[t + 1];
                    if (m.Variant == "sigmoid")
                        for (int p = 0; p <= t; p++) w[p] = 1 / (1 + Math.Exp(-(s[p] + m.SigmoidBias)));
                    else if (m.Variant == "softpick")
                    {
                        // ReLU(e^s − 1) / Σ|e^s − 1|, in the stable form with the row maximum taken out (and its 1e-8).
                        double sum = 0, shift = Math.Exp(-max);
                        for (int p = 0; p <= t; p++) { w[p] = Math.Exp(s[p] - max) - shift; sum += Math.Abs(w[p]); }
                        for (int p = 0; p <= t; p++) w[p] = Math.Max(w[p], 0) / (sum + 1e-8);
                    }
                    else
                    {
                        double? extra = m.Variant == "softmax1" ? 0 : m.Variant == "sink-logit" ? m.Sinks[l][h] : null;
                        double mx = extra is double e ? Math.Max(max, e) : max, sum = extra is double e2 ? Math.Exp(e2 - mx) : 0;
                        for (int p = 0; p <= t; p++) { w[p] = Math.Exp(s[p] - mx); sum += w[p]; }
                        for (int p = 0; p <= t; p++) w[p] /= sum;
                    }
                    double gate = 1;
                    if (m.Variant == "gated")
                    {
                        double[] xn = RmsNorm(x[t], m.AttnNorm[l], m.RmsEps);
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += m.GateW[l][h * d + i] * xn[i];
                        gate = 1 / (1 + Math.Exp(-dot));
                    }
                    for (int p = 0; p <= t; p++)
                        for (int i = 0; i < hd; i++) att[h * hd + i] += gate * w[p] * v[p][kvh * hd + i];
                }
                double[] o = MatVec(m.Wo[l], d, d, att);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
            }
            for (int t = 0; t < n; t++)
            {
                double[] xn = RmsNorm(x[t], m.FfnNorm[l], m.RmsEps);
                double[] g = MatVec(m.Gate[l], m.Hidden, d, xn), u = MatVec(m.Up[l], m.Hidden, d, xn);
                for (int i = 0; i < m.Hidden; i++) g[i] = g[i] / (1 + Math.Exp(-g[i])) * u[i];
                double[] o = MatVec(m.Down[l], d, m.Hidden, g);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
            }
        }
        var logits = new double[n][];
        for (int t = 0; t < n; t++) logits[t] = MatVec(m.Output, m.Vocab, d, RmsNorm(x[t], m.OutputNorm, m.RmsEps));
        return logits;
    }

    internal static double[] RmsNorm(double[] x, float[] g, float eps)
    {
        double ss = 0;
        foreach (double v in x) ss += v * v;
        double scale = 1 / Math.Sqrt(ss / x.Length + eps);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * g[i];
        return y;
    }

    internal static double[] MatVec(float[] w, int rows, int cols, double[] x)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++) { double s = 0; for (int c = 0; c < cols; c++) s += w[r * cols + c] * x[c]; y[r] = s; }
        return y;
    }

    internal static void Rope(double[] v, int heads, int hd, long pos, FixtureModel m)
    {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++)
            {
                double freq = Math.Pow(m.FreqBase, -2.0 * i / hd);
                if (m.RopeFreqFactors != null) freq /= m.RopeFreqFactors[i];
                double th = pos * freq, c = Math.Cos(th), s = Math.Sin(th);
                // Pairs (2i, 2i+1) for llama; (i, i + hd/2) for NeoX-style models (qwen2).
                int ia = m.Arch == "qwen2" ? i : 2 * i, ib = m.Arch == "qwen2" ? i + hd / 2 : 2 * i + 1;
                double a = v[h * hd + ia], b = v[h * hd + ib];
                v[h * hd + ia] = a * c - b * s;
                v[h * hd + ib] = a * s + b * c;
            }
    }
}
