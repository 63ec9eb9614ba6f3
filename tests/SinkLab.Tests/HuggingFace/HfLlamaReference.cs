using SinkLab.Formats.HuggingFace;

namespace SinkLab.Tests.HuggingFace;

/// <summary>
/// A float64 forward of Hugging Face's <c>LlamaForCausalLM</c> straight from a checkpoint folder, as transformers computes
/// it: the weights as saved (Q/K rows in Hugging Face's order), RoPE by <c>rotate_half</c> on (first half, second half) of
/// each head, grouped K/V repeated, causal softmax, tied or separate lm_head. It shares nothing with the converter or the
/// engine, so agreement with the engine on the converted GGUF checks the converter's permutation and the layouts end to end.
/// </summary>
internal static class HfLlamaReference
{
    public static double[][] Logits(string dir, int[] tokens)
    {
        using HfCheckpoint cp = HfCheckpoint.Open(dir);
        HfConfig c = cp.Config;
        int dim = c.Int(["hidden_size"]), layers = c.Int(["num_hidden_layers"]), heads = c.Int(["num_attention_heads"]);
        int kvHeads = c.IntOr(["num_key_value_heads"], heads), ff = c.Int(["intermediate_size"]), hd = dim / heads, group = heads / kvHeads;
        double eps = c.Number("rms_norm_eps"), theta = c.Number(["rope_theta"], 10000);
        float[] W(string name) => cp.Read(name);
        float[] emb = cp.TryFind("model.embed_tokens.weight", out _, out _) ? W("model.embed_tokens.weight") : W("lm_head.weight");
        float[] head = cp.TryFind("lm_head.weight", out _, out _) ? W("lm_head.weight") : emb;
        int vocab = emb.Length / dim, n = tokens.Length;

        double[] Norm(double[] x, float[] w)
        {
            double ms = x.Sum(v => v * v) / x.Length;
            return x.Select((v, i) => v / Math.Sqrt(ms + eps) * w[i]).ToArray();
        }
        double[] Lin(float[] w, double[] x, int rows)
        {
            var y = new double[rows];
            int cols = x.Length;
            for (int r = 0; r < rows; r++) { double s = 0; for (int k = 0; k < cols; k++) s += w[r * cols + k] * x[k]; y[r] = s; }
            return y;
        }
        void RotateHalf(double[] v, int nHeads, int pos)
        {
            for (int h = 0; h < nHeads; h++)
            {
                var x = v.AsSpan(h * hd, hd).ToArray();
                for (int i = 0; i < hd; i++)
                {
                    double freq = 1.0 / Math.Pow(theta, 2.0 * (i % (hd / 2)) / hd), a = pos * freq;
                    double rotated = i < hd / 2 ? -x[i + hd / 2] : x[i - hd / 2];
                    v[h * hd + i] = x[i] * Math.Cos(a) + rotated * Math.Sin(a);
                }
            }
        }

        var hs = Enumerable.Range(0, n).Select(t => emb.AsSpan(tokens[t] * dim, dim).ToArray().Select(v => (double)v).ToArray()).ToArray();
        for (int l = 0; l < layers; l++)
        {
            string P = $"model.layers.{l}.";
            float[] inNorm = W(P + "input_layernorm.weight"), wq = W(P + "self_attn.q_proj.weight"), wk = W(P + "self_attn.k_proj.weight");
            float[] wv = W(P + "self_attn.v_proj.weight"), wo = W(P + "self_attn.o_proj.weight"), postNorm = W(P + "post_attention_layernorm.weight");
            float[] gate = W(P + "mlp.gate_proj.weight"), up = W(P + "mlp.up_proj.weight"), down = W(P + "mlp.down_proj.weight");
            var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
            for (int t = 0; t < n; t++)
            {
                double[] x = Norm(hs[t], inNorm);
                q[t] = Lin(wq, x, heads * hd); k[t] = Lin(wk, x, kvHeads * hd); v[t] = Lin(wv, x, kvHeads * hd);
                RotateHalf(q[t], heads, t); RotateHalf(k[t], kvHeads, t);
            }
            for (int t = 0; t < n; t++)
            {
                var z = new double[heads * hd];
                for (int h = 0; h < heads; h++)
                {
                    int g = h / group;
                    double[] s = Enumerable.Range(0, t + 1).Select(p => Enumerable.Range(0, hd).Sum(i => q[t][h * hd + i] * k[p][g * hd + i]) / Math.Sqrt(hd)).ToArray();
                    double max = s.Max(), sum = s.Sum(a => Math.Exp(a - max));
                    for (int p = 0; p <= t; p++)
                        for (int i = 0; i < hd; i++) z[h * hd + i] += Math.Exp(s[p] - max) / sum * v[p][g * hd + i];
                }
                double[] o = Lin(wo, z, dim);
                for (int i = 0; i < dim; i++) hs[t][i] += o[i];
            }
            for (int t = 0; t < n; t++)
            {
                double[] x = Norm(hs[t], postNorm), g = Lin(gate, x, ff), u = Lin(up, x, ff);
                double[] act = g.Select((a, i) => a / (1 + Math.Exp(-a)) * u[i]).ToArray();
                double[] o = Lin(down, act, dim);
                for (int i = 0; i < dim; i++) hs[t][i] += o[i];
            }
        }
        float[] final = W("model.norm.weight");
        return hs.Select(h => Lin(head, Norm(h, final), vocab)).ToArray();
    }
}
