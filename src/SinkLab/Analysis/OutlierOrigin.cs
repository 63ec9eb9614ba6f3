using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Analysis;

/// <summary>Where the largest residual activation comes from (docs/metrics.md, "Where the outliers come from").</summary>
/// <param name="Layer">The block that adds the most to the spike (largest |Δ resid| at its token and channel).</param>
/// <param name="Position">Position of the spiking token (in the sequence where the spike is largest).</param>
/// <param name="Channel">Residual channel of the spike.</param>
/// <param name="Value">The largest residual activation (any layer).</param>
/// <param name="AttnContribution">What that block's attention adds to the channel at the token.</param>
/// <param name="MlpContribution">What its MLP adds.</param>
/// <param name="Form">The MLP output channel as a quadratic form of the MLP input at the token (gated MLPs), or null.</param>
/// <param name="MedianOtherMlpOut">Median |MLP output| of that channel at the other tokens.</param>
/// <param name="NormHook">The normalised input of the next block (or the final norm) the sparsity is read at.</param>
/// <param name="TopChannelShare">Share of the spiking token's normalised ‖n‖² in its largest channel.</param>
/// <param name="MedianTopChannelShareOthers">The same share, median over the other tokens.</param>
/// <param name="CrossContextCosine">Mean pairwise cosine of the normalised vector at the spiking position across sequences.</param>
/// <param name="CrossContextCosineOthers">The same, averaged over the other positions.</param>
/// <param name="Notes">What was not computed, and why.</param>
public sealed record OutlierOrigin(int Layer, int Position, int Channel, double Value, double AttnContribution, double MlpContribution,
    QuadraticFormSpectrum? Form, double MedianOtherMlpOut, string NormHook, double TopChannelShare, double MedianTopChannelShareOthers,
    double CrossContextCosine, double CrossContextCosineOthers, string[] Notes);

/// <summary>Finds the block that makes the largest residual activation and explains it (<see cref="OutlierOrigin"/>).</summary>
public static class OutlierOriginAnalysis
{
    /// <summary>Largest input width whose d×d form is decomposed (Jacobi, O(d³)).</summary>
    public const int MaxFormWidth = 1024;

    /// <summary>Runs on <paramref name="sequences"/> (BOS first, equal lengths).</summary>
    public static OutlierOrigin Run(InferenceSession session, int[][] sequences)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(sequences);
        Model model = session.Model;
        ModelConfig c = model.Config;
        int dim = c.Dim, layers = c.Layers;
        HookPoint ffnIn = ActivationQuantization.FfnInput(ActivationQuantization.Points(c));
        var caches = sequences.Select(s => session.RunWithCache(s, n => n.EndsWith("hook_resid_post", StringComparison.Ordinal) || n.EndsWith("hook_resid_pre", StringComparison.Ordinal)
            || n.EndsWith("hook_attn_out", StringComparison.Ordinal) || n.EndsWith("hook_mlp_out", StringComparison.Ordinal)
            || n == HookNames.Name(HookPoint.LnFinal) || n.EndsWith(HookNames.Name(ffnIn, 0)["blocks.0".Length..], StringComparison.Ordinal)
            || n.EndsWith(HookNames.Name(HookPoint.Ln1, 0)["blocks.0".Length..], StringComparison.Ordinal))).ToArray();
        var notes = new List<string>();

        // The spike: largest |resid_post| anywhere.
        (int seq, int layer, int pos, int ch, float val) best = (0, 0, 0, 0, 0);
        for (int s = 0; s < caches.Length; s++)
            for (int l = 0; l < layers; l++)
            {
                float[] r = caches[s][HookPoint.ResidPost, l].Data;
                for (int i = 0; i < r.Length; i++)
                    if (Math.Abs(r[i]) > Math.Abs(best.val)) best = (s, l, i / dim, i % dim, r[i]);
            }
        ActivationCache sc = caches[best.seq];
        int at = best.pos * dim + best.ch;
        int maker = 0;
        double bestDelta = -1;
        for (int l = 0; l <= best.layer; l++)
        {
            double delta = Math.Abs(sc[HookPoint.ResidPost, l].Data[at] - sc[HookPoint.ResidPre, l].Data[at]);
            if (delta > bestDelta) { bestDelta = delta; maker = l; }
        }
        double attn = sc[HookPoint.AttnOut, maker].Data[at], mlp = sc[HookPoint.MlpOut, maker].Data[at];

        // The MLP's output channel as a quadratic form at the spiking token.
        QuadraticFormSpectrum? form = null;
        LayerWeights lw = model.Weights.Layers[maker];
        if (c.Block.Mlp == MlpKind.Gelu) notes.Add("the MLP is not gated (GELU): no quadratic form");
        else if (lw.Experts != null) notes.Add("the MLP is a mixture of experts: the form would differ per token's choice of experts; not decomposed");
        else if (dim > MaxFormWidth) notes.Add($"width {dim} > {MaxFormWidth}: the {dim}×{dim} form is not decomposed");
        else
        {
            float[] x = sc[ffnIn, maker].Data.AsSpan(best.pos * dim, dim).ToArray();
            int hidden = c.HiddenDim;
            float[][] gate = Rows(lw.FfnGate!, hidden), up = Rows(lw.FfnUp!, hidden);
            var down = new float[hidden];
            lw.FfnDown!.DequantizeRow(best.ch, down);
            var phi = new double[hidden];
            for (int i = 0; i < hidden; i++)
            {
                double g = Dot(gate[i], x) + (lw.BiasGate?[i] ?? 0);
                phi[i] = g == 0 ? 0.5 : Act(c.Block.Mlp, g) / g;   // act(g)/g → 0.5 at g = 0 for both SiLU and GELU
            }
            form = QuadraticForm.Analyze(QuadraticForm.Matrix(down, gate, up, phi), x.Select(v => (double)v).ToArray());
            if (lw.BiasUp != null || lw.BiasGate != null || lw.BiasDown != null || lw.FfnPostNorm != null)
                notes.Add("the MLP has biases or a post-norm: the form covers the bias-free product only, so it differs from the block's output");
        }
        var others = new List<double>();
        for (int s = 0; s < caches.Length; s++)
        {
            float[] mo = caches[s][HookPoint.MlpOut, maker].Data;
            for (int t = 0; t < mo.Length / dim; t++) if (s != best.seq || t != best.pos) others.Add(Math.Abs(mo[t * dim + best.ch]));
        }

        // RMSNorm / LayerNorm: how the next normalisation maps the spiking token.
        bool last = maker + 1 >= layers;
        HookPoint np = last ? HookPoint.LnFinal : HookPoint.Ln1;
        string normHook = HookNames.Name(np, maker + 1);
        double topShare = 0, cross = 0, crossOthers = 0;
        var shares = new List<double>();
        if (!last && !caches[0].Contains(normHook))
        {
            notes.Add("the next block has no pre-norm hook: no normalised view");
            normHook = "";
        }
        else
        {
            int T = sequences.Min(s => s.Length);
            for (int s = 0; s < caches.Length; s++)
            {
                float[] n = caches[s][np, maker + 1].Data;
                for (int t = 0; t < n.Length / dim; t++)
                {
                    double share = TopShare(n.AsSpan(t * dim, dim));
                    if (s == best.seq && t == best.pos) topShare = share; else shares.Add(share);
                }
            }
            cross = CrossCosine(caches, np, maker + 1, best.pos, dim);
            crossOthers = Enumerable.Range(0, T).Where(t => t != best.pos).Select(t => CrossCosine(caches, np, maker + 1, t, dim)).DefaultIfEmpty(0).Average();
            if (best.pos == 0) notes.Add("the spiking token is at position 0, which attends only to itself: its vectors are the same in every sequence by construction");
        }
        return new OutlierOrigin(maker, best.pos, best.ch, best.val, attn, mlp, form, Median(others), normHook, topShare, Median(shares), cross, crossOthers, [.. notes]);
    }

    private static float[][] Rows(WeightMatrix w, int rows)
    {
        var r = new float[rows][];
        for (int i = 0; i < rows; i++) { r[i] = new float[w.Cols]; w.DequantizeRow(i, r[i]); }
        return r;
    }

    private static double Act(MlpKind kind, double g) => kind == MlpKind.SwiGlu ? g / (1 + Math.Exp(-g)) : Kernels.Gelu.Formula((float)g);

    private static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }

    /// <summary>max_c n_c² / Σ n_c².</summary>
    public static double TopShare(ReadOnlySpan<float> n)
    {
        double sum = 0, max = 0;
        foreach (float v in n) { double s = (double)v * v; sum += s; max = Math.Max(max, s); }
        return sum > 0 ? max / sum : 0;
    }

    private static double CrossCosine(ActivationCache[] caches, HookPoint p, int layer, int pos, int dim)
    {
        if (caches.Length < 2) return 1;
        double total = 0;
        int pairs = 0;
        for (int a = 0; a < caches.Length; a++)
            for (int b = a + 1; b < caches.Length; b++)
            {
                ReadOnlySpan<float> x = caches[a][p, layer].Data.AsSpan(pos * dim, dim), y = caches[b][p, layer].Data.AsSpan(pos * dim, dim);
                double xy = 0, xx = 0, yy = 0;
                for (int i = 0; i < dim; i++) { xy += (double)x[i] * y[i]; xx += (double)x[i] * x[i]; yy += (double)y[i] * y[i]; }
                total += xx > 0 && yy > 0 ? xy / Math.Sqrt(xx * yy) : 0;
                pairs++;
            }
        return total / pairs;
    }

    private static double Median(List<double> v)
    {
        if (v.Count == 0) return 0;
        v.Sort();
        return v.Count % 2 == 1 ? v[v.Count / 2] : 0.5 * (v[v.Count / 2 - 1] + v[v.Count / 2]);
    }
}
