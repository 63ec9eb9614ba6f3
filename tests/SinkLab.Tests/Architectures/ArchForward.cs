using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Tests.Architectures;

/// <summary>
/// An independent, deliberately plain float64 forward pass of every supported architecture, written from llama.cpp's
/// graphs (../shared/reference/arch/README.md, "What llama.cpp computes") and sharing no code with the engine's
/// forward: it reads the file's keys and tensors by name itself, recomputes the whole sequence per call (no cache),
/// and spells each architecture's choices out in one table below. GELU is the tanh formula without rounding, which
/// the engine computes with <see cref="Inference.GeluMode.Tanh"/> (ggml's fp16 table is discontinuous, so a float32 and
/// a float64 forward land on different table entries; the llama.cpp fixtures check the table itself).
/// </summary>
internal static class ArchForward
{
    private sealed record Traits(bool LayerNorm, string Placement, bool Parallel, string Mlp, string Positions, bool NormalRope,
        string QkNorm, bool EmbedScale);

    private static Traits Of(string arch, GgufFile f) => arch switch
    {
        "llama" => new(false, "pre", false, "swiglu", "rope", true, "none", false),
        "qwen2" => new(false, "pre", false, "swiglu", "rope", false, "none", false),
        "qwen3" => new(false, "pre", false, "swiglu", "rope", false, "head", false),
        "gemma" => new(false, "pre", false, "geglu", "rope", false, "none", true),
        "gemma2" => new(false, "sandwich", false, "geglu", "rope", false, "none", true),
        "gemma3" => new(false, "sandwich", false, "geglu", "rope", false, "head", true),
        "phi3" => new(false, "pre", false, "swiglu", "rope", false, "none", false),
        "gpt2" => new(true, "pre", false, "gelu", "learned", false, "none", false),
        "gptneox" => new(true, "pre", (bool)f.Metadata.First(kv => kv.Key == "gptneox.use_parallel_residual").Value.Value, "gelu", "rope", false, "none", false),
        "mpt" => new(true, "pre", false, "gelu", "alibi", false, "none", false),
        "olmo2" => new(false, "post", false, "swiglu", "rope", false, "whole", false),
        "starcoder2" => new(true, "pre", false, "gelu", "rope", false, "none", false),
        "stablelm" => new(true, "pre", !f.TryGetTensor("blk.0.ffn_norm.weight", out _), "swiglu", "rope", false, "none", false),
        "gpt-oss" => new(false, "pre", false, "moe-oai", "rope", false, "none", false),
        _ => throw new ArgumentException(arch),
    };

    /// <summary>A cache policy, literally: after each token the sink policy keeps the first <paramref name="Sinks"/> and
    /// the last <paramref name="Window"/> entries (Window 0: keep all); the shift policy (before a token, when the list
    /// holds <paramref name="ShiftCapacity"/> entries) drops the older half of the entries after the first Sinks.
    /// Positions are indices in the list (inside the cache), or stream positions with <paramref name="Original"/>.
    /// With <paramref name="LocalKeepsWindow"/> (the eviction policies) a sliding-window layer ignores the policy and
    /// keeps the entries its next query can see: the last window − 1.</summary>
    public sealed record Policy(int Sinks = 0, int Window = 0, bool Original = false, int ShiftCapacity = 0, bool LocalKeepsWindow = false)
    {
        public static Policy Full { get; } = new();
    }

    private sealed record Entry(double[] K, double[] V, long Position);

    /// <summary>Next-token logits after each token (a dense cache: the plain causal forward).</summary>
    public static double[][] Logits(GgufFile f, int[] tokens) => Logits(f, tokens, Policy.Full);

    /// <summary>Next-token logits after each token, one token at a time, every layer keeping a list of (key before
    /// RoPE, value, stream position) under <paramref name="policy"/>: keys are rotated at read time at their position,
    /// ALiBi and sliding windows measure distance in the same positions, and a learned position table is indexed by the
    /// new token's position.</summary>
    public static double[][] Logits(GgufFile f, int[] tokens, Policy policy)
    {
        string arch = (string)Key(f, "general.architecture")!;
        Traits tr = Of(arch, f);
        double K(string suffix, double fallback) => Key(f, $"{arch}.{suffix}") is { } v ? Convert.ToDouble(v) : fallback;
        int dim = (int)K("embedding_length", 0), layers = (int)K("block_count", 0), heads = (int)K("attention.head_count", 0);
        int kvHeads = (int)K("attention.head_count_kv", heads), hd = (int)K("attention.key_length", dim / heads), ff = (int)K("feed_forward_length", 0);
        int qDim = heads * hd, kvDim = kvHeads * hd, ropeDim = (int)K("rope.dimension_count", hd), group = heads / kvHeads;
        double eps = tr.LayerNorm ? K("attention.layer_norm_epsilon", 0) : K("attention.layer_norm_rms_epsilon", 0);
        double freqBase = K("rope.freq_base", 10000), linear = Key(f, $"{arch}.rope.scaling.type") is "linear" ? 1 / K("rope.scaling.factor", 1) : 1;
        int window = (int)K("attention.sliding_window", 0);
        double attnCap = arch == "gemma2" ? K("attn_logit_softcapping", 50) : 0;
        double finalCap = arch == "gemma2" ? K("final_logit_softcapping", 30) : K("final_logit_softcapping", 0);
        double scale = arch == "gemma2" && layers == 46 || arch == "gemma3" && layers == 62 ? 1 / Math.Sqrt(dim / heads) : 1 / Math.Sqrt(hd);
        double clamp = K("attention.clamp_kqv", 0), maxBias = K("attention.max_alibi_bias", 0);
        bool Local(int l) => window > 0 && arch switch { "gemma2" or "gpt-oss" => l % 2 == 0, "gemma3" => l % 6 < 5, "phi3" => true, _ => false };
        bool yarn = Key(f, $"{arch}.rope.scaling.type") is "yarn";
        double yarnFactor = yarn ? K("rope.scaling.factor", 1) : 1, yarnOrig = yarn ? K("rope.scaling.original_context_length", 0) : 0;
        int experts = (int)K("expert_count", 0), used = (int)K("expert_used_count", 0), ffExp = (int)K("expert_feed_forward_length", ff);
        float[]? ropeFactors = T(f, "rope_freqs.weight");
        int vocab = (int)f.Tensors.First(t => t.Name == "token_embd.weight").RowCount;
        float[] emb = T(f, "token_embd.weight")!;
        float[] output = (arch.StartsWith("gemma", StringComparison.Ordinal) ? null : T(f, "output.weight")) ?? emb;
        double[] slopes = Slopes(heads, maxBias);

        double[] Norm(double[] v, string name)
        {
            float[] w = T(f, name)!, b = T(f, name.Replace(".weight", ".bias")) ?? new float[v.Length];
            var y = new double[v.Length];
            if (tr.LayerNorm)
            {
                double mean = v.Average(), var = v.Sum(a => (a - mean) * (a - mean)) / v.Length;
                for (int i = 0; i < v.Length; i++) y[i] = (v[i] - mean) / Math.Sqrt(var + eps) * w[i] + b[i];
            }
            else
            {
                double ms = v.Sum(a => a * a) / v.Length;
                for (int i = 0; i < v.Length; i++) y[i] = v[i] / Math.Sqrt(ms + eps) * w[i];
            }
            return y;
        }

        var cache = Enumerable.Range(0, layers).Select(_ => new List<Entry>()).ToArray();
        var result = new double[tokens.Length][];
        for (int n = 0; n < tokens.Length; n++)
        {
            if (policy.ShiftCapacity > 0 && cache[0].Count == policy.ShiftCapacity)
                foreach (List<Entry> c in cache) c.RemoveRange(policy.Sinks, (c.Count - policy.Sinks) / 2);
            long Pos(List<Entry> c, int index) => policy.Original ? c[index].Position : index;
            var x = new double[dim];
            for (int i = 0; i < dim; i++) x[i] = emb[tokens[n] * dim + i] * (tr.EmbedScale ? Math.Sqrt(dim) : 1);
            if (tr.Positions == "learned")
            {
                long p = policy.Original ? n : cache[0].Count;   // the index the new token is about to take
                float[] pe = T(f, "position_embd.weight")!;
                for (int i = 0; i < dim; i++) x[i] += pe[p * dim + i];
            }
            for (int l = 0; l < layers; l++)
            {
                string B(string s) => $"blk.{l}.{s}";
                float[] wq, wk, wv;
                double[] bq, bk, bv;
                if (T(f, B("attn_qkv.weight")) is { } qkv)   // fused Q|K|V rows
                {
                    wq = qkv[..(qDim * dim)]; wk = qkv[(qDim * dim)..((qDim + kvDim) * dim)]; wv = qkv[((qDim + kvDim) * dim)..];
                    double[] b = Vec(T(f, B("attn_qkv.bias")), qDim + 2 * kvDim);
                    bq = b[..qDim]; bk = b[qDim..(qDim + kvDim)]; bv = b[(qDim + kvDim)..];
                }
                else
                {
                    wq = T(f, B("attn_q.weight"))!; wk = T(f, B("attn_k.weight"))!; wv = T(f, B("attn_v.weight"))!;
                    bq = Vec(T(f, B("attn_q.bias")), qDim); bk = Vec(T(f, B("attn_k.bias")), kvDim); bv = Vec(T(f, B("attn_v.bias")), kvDim);
                }
                double[] input = tr.Placement == "post" ? x : Norm(x, B("attn_norm.weight"));
                double[] q = Add(MatVec(wq, qDim, dim, input), bq), k = Add(MatVec(wk, kvDim, dim, input), bk), v = Add(MatVec(wv, kvDim, dim, input), bv);
                if (clamp > 0) foreach (double[] a in new[] { q, k, v }) for (int i = 0; i < a.Length; i++) a[i] = Math.Clamp(a[i], -clamp, clamp);
                if (tr.QkNorm == "whole") { q = Norm(q, B("attn_q_norm.weight")); k = Norm(k, B("attn_k_norm.weight")); }
                if (tr.QkNorm == "head") { q = PerHead(q, heads, hd, s => Norm(s, B("attn_q_norm.weight"))); k = PerHead(k, kvHeads, hd, s => Norm(s, B("attn_k_norm.weight"))); }
                List<Entry> c = cache[l];
                c.Add(new Entry(k, v, n));
                bool local = Local(l);
                double baseL = arch == "gemma3" && local ? K("rope.freq_base_swa", 10000) : freqBase, linearL = arch == "gemma3" && local ? 1 : linear;
                long qPos = Pos(c, c.Count - 1);
                void Rotate(double[] a, int nh, long p)
                {
                    if (yarn) Yarn(a, nh, hd, ropeDim, p, baseL, yarnFactor, yarnOrig);
                    else Rope(a, nh, hd, ropeDim, p, baseL, linearL, ropeFactors, tr.NormalRope);
                }
                if (tr.Positions == "rope") Rotate(q, heads, qPos);
                var keys = new double[c.Count][];
                for (int j = 0; j < c.Count; j++)
                {
                    keys[j] = (double[])c[j].K.Clone();
                    if (tr.Positions == "rope") Rotate(keys[j], kvHeads, Pos(c, j));
                }
                float[]? sinks = T(f, B("attn_sinks.weight"));
                var z = new double[qDim];
                for (int h = 0; h < heads; h++)
                {
                    var s = new double[c.Count];
                    for (int j = 0; j < c.Count; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[h * hd + i] * keys[j][(h / group) * hd + i];
                        s[j] = dot * scale;
                        if (attnCap > 0) s[j] = attnCap * Math.Tanh(s[j] / attnCap);
                        if (tr.Positions == "alibi") s[j] -= slopes[h] * (qPos - Pos(c, j));
                        if (local && qPos - Pos(c, j) >= window) s[j] = double.NegativeInfinity;
                    }
                    // A learned sink logit (gpt-oss) joins the row as one more column that takes mass and carries no value.
                    double max = Math.Max(s.Max(), sinks?[h] ?? double.NegativeInfinity), sum = s.Sum(a => Math.Exp(a - max)) + (sinks == null ? 0 : Math.Exp(sinks[h] - max));
                    for (int j = 0; j < c.Count; j++)
                        for (int i = 0; i < hd; i++) z[h * hd + i] += Math.Exp(s[j] - max) / sum * c[j].V[(h / group) * hd + i];
                }
                double[] attnOut = Add(MatVec(T(f, B("attn_output.weight"))!, dim, qDim, z), Vec(T(f, B("attn_output.bias")), dim));
                if (tr.Placement != "pre") attnOut = Norm(attnOut, B("post_attention_norm.weight"));

                double[] mlpIn;
                if (tr.Parallel) mlpIn = T(f, B("ffn_norm.weight")) != null ? Norm(x, B("ffn_norm.weight")) : input;
                else
                {
                    x = Add(x, attnOut);
                    mlpIn = tr.Placement == "post" ? x : Norm(x, B(arch == "gpt-oss" ? "post_attention_norm.weight" : "ffn_norm.weight"));
                }
                if (tr.Mlp == "moe-oai")
                {
                    x = Add(x, Moe(f, l, mlpIn, dim, experts, used, ffExp));
                    continue;
                }
                double[] hidden;
                if (tr.Mlp == "gelu")
                {
                    hidden = Add(MatVec(T(f, B("ffn_up.weight"))!, ff, dim, mlpIn), Vec(T(f, B("ffn_up.bias")), ff));
                    for (int i = 0; i < ff; i++) hidden[i] = Gelu(hidden[i]);
                }
                else
                {
                    float[] up = T(f, B("ffn_up.weight"))!, gate = T(f, B("ffn_gate.weight")) ?? up[..(ff * dim)];
                    if (T(f, B("ffn_gate.weight")) == null) up = up[(ff * dim)..];   // phi3: gate rows, then up rows
                    double[] g = MatVec(gate, ff, dim, mlpIn), u = MatVec(up, ff, dim, mlpIn);
                    hidden = new double[ff];
                    for (int i = 0; i < ff; i++) hidden[i] = (tr.Mlp == "geglu" ? Gelu(g[i]) : g[i] / (1 + Math.Exp(-g[i]))) * u[i];
                }
                double[] o = Add(MatVec(T(f, B("ffn_down.weight"))!, dim, ff, hidden), Vec(T(f, B("ffn_down.bias")), dim));
                if (tr.Placement != "pre") o = Norm(o, B("post_ffw_norm.weight"));
                x = Add(tr.Parallel ? Add(x, attnOut) : x, o);
            }
            result[n] = MatVec(output, vocab, dim, Norm(x, "output_norm.weight"));
            if (finalCap > 0) for (int i = 0; i < vocab; i++) result[n][i] = finalCap * Math.Tanh(result[n][i] / finalCap);
            for (int l = 0; l < layers; l++)
            {
                List<Entry> c = cache[l];
                if (policy.LocalKeepsWindow && Local(l)) c.RemoveAll(e => n + 1 - e.Position >= window);
                else if (policy.ShiftCapacity == 0 && policy.Window > 0 && c.Count > policy.Sinks + policy.Window)
                    c.RemoveRange(policy.Sinks, c.Count - policy.Sinks - policy.Window);
            }
        }
        return result;
    }

    /// <summary>gpt-oss's mixture of experts as llama.cpp's README facts state it: router logits W·x + b, the top
    /// <paramref name="used"/> chosen (largest first), a softmax over those alone, each expert a clamped SwiGLU
    /// (α 1.702, limit 7) with biases, the weighted sum.</summary>
    private static double[] Moe(GgufFile f, int l, double[] x, int dim, int experts, int used, int h)
    {
        string B(string s) => $"blk.{l}.{s}";
        double[] logits = Add(MatVec(T(f, B("ffn_gate_inp.weight"))!, experts, dim, x), Vec(T(f, B("ffn_gate_inp.bias")), experts));
        int[] chosen = [.. Enumerable.Range(0, experts).OrderByDescending(e => logits[e]).ThenBy(e => e).Take(used)];
        double max = chosen.Max(e => logits[e]), sum = chosen.Sum(e => Math.Exp(logits[e] - max));
        float[] gate = T(f, B("ffn_gate_exps.weight"))!, up = T(f, B("ffn_up_exps.weight"))!, down = T(f, B("ffn_down_exps.weight"))!;
        float[]? bg = T(f, B("ffn_gate_exps.bias")), bu = T(f, B("ffn_up_exps.bias")), bd = T(f, B("ffn_down_exps.bias"));
        var y = new double[dim];
        foreach (int e in chosen)
        {
            double w = Math.Exp(logits[e] - max) / sum;
            double[] g = Add(MatVec(gate[(e * h * dim)..((e + 1) * h * dim)], h, dim, x), Vec(bg?[(e * h)..((e + 1) * h)], h));
            double[] u = Add(MatVec(up[(e * h * dim)..((e + 1) * h * dim)], h, dim, x), Vec(bu?[(e * h)..((e + 1) * h)], h));
            var a = new double[h];
            for (int i = 0; i < h; i++)
            {
                double gc = Math.Min(g[i], 7), uc = Math.Clamp(u[i], -7, 7);
                a[i] = gc / (1 + Math.Exp(-1.702 * gc)) * (uc + 1);
            }
            double[] o = Add(MatVec(down[(e * dim * h)..((e + 1) * dim * h)], dim, h, a), Vec(bd?[(e * dim)..((e + 1) * dim)], dim));
            for (int i = 0; i < dim; i++) y[i] += w * o[i];
        }
        // Shared experts (Qwen-MoE's layout) where the file has them: the same clamped SwiGLU over one more MLP, its
        // output times σ(w·x) when ffn_gate_inp_shexp is there, added to every token's sum.
        if (T(f, B("ffn_up_shexp.weight")) is { } sUp)
        {
            int hs = sUp.Length / dim;
            double[] g = MatVec(T(f, B("ffn_gate_shexp.weight"))!, hs, dim, x), u = MatVec(sUp, hs, dim, x);
            var a = new double[hs];
            for (int i = 0; i < hs; i++)
            {
                double gc = Math.Min(g[i], 7), uc = Math.Clamp(u[i], -7, 7);
                a[i] = gc / (1 + Math.Exp(-1.702 * gc)) * (uc + 1);
            }
            double[] o = MatVec(T(f, B("ffn_down_shexp.weight"))!, dim, hs, a);
            double scale = T(f, B("ffn_gate_inp_shexp.weight")) is { } gi ? 1 / (1 + Math.Exp(-Enumerable.Range(0, dim).Sum(i => gi[i] * x[i]))) : 1;
            for (int i = 0; i < dim; i++) y[i] += scale * o[i];
        }
        return y;
    }

    /// <summary>NeoX RoPE with YaRN as the fixture README gives it: per pair i, r = 1 − clamp((i − low) / max(0.001,
    /// high − low), 0, 1), angle θ·((1 − r)/factor + r), cos and sin times 1 + 0.1 ln(factor).</summary>
    private static void Yarn(double[] v, int heads, int hd, int ropeDim, long pos, double freqBase, double factor, double orig)
    {
        double Corr(double beta) => ropeDim * Math.Log(orig / (beta * 2 * Math.PI)) / (2 * Math.Log(freqBase));
        double low = Math.Max(0, Math.Floor(Corr(32))), high = Math.Min(ropeDim - 1, Math.Ceiling(Corr(1)));
        double mscale = 1 + 0.1 * Math.Log(factor);
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < ropeDim / 2; i++)
            {
                double theta = pos * Math.Pow(freqBase, -2.0 * i / ropeDim);
                double r = 1 - Math.Clamp((i - low) / Math.Max(0.001, high - low), 0, 1);
                double angle = theta * ((1 - r) / factor + r);
                int a = h * hd + i, b = h * hd + i + ropeDim / 2;
                double x0 = v[a], x1 = v[b];
                v[a] = (x0 * Math.Cos(angle) - x1 * Math.Sin(angle)) * mscale;
                v[b] = (x0 * Math.Sin(angle) + x1 * Math.Cos(angle)) * mscale;
            }
    }

    /// <summary>The tanh approximation of GELU.</summary>
    private static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x)));

    private static double[] Slopes(int heads, double maxBias)
    {
        int n2 = 1 << (int)Math.Floor(Math.Log2(heads));
        double m0 = Math.Pow(2, -maxBias / n2), m1 = Math.Pow(2, -maxBias / 2 / n2);
        return Enumerable.Range(0, heads).Select(h => h < n2 ? Math.Pow(m0, h + 1) : Math.Pow(m1, 2 * (h - n2) + 1)).ToArray();
    }

    private static void Rope(double[] v, int heads, int hd, int ropeDim, long pos, double freqBase, double linear, float[]? factors, bool normal)
    {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < ropeDim / 2; i++)
            {
                double theta = pos * Math.Pow(freqBase, -2.0 * i / ropeDim) * linear / (factors?[i] ?? 1);
                int a = h * hd + (normal ? 2 * i : i), b = h * hd + (normal ? 2 * i + 1 : i + ropeDim / 2);
                double x0 = v[a], x1 = v[b];
                v[a] = x0 * Math.Cos(theta) - x1 * Math.Sin(theta);
                v[b] = x0 * Math.Sin(theta) + x1 * Math.Cos(theta);
            }
    }

    private static double[] PerHead(double[] v, int heads, int hd, Func<double[], double[]> norm)
    {
        var y = new double[v.Length];
        for (int h = 0; h < heads; h++) norm(v[(h * hd)..((h + 1) * hd)]).CopyTo(y, h * hd);
        return y;
    }

    private static double[] MatVec(float[] w, int rows, int cols, double[] x)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++) { double s = 0; for (int c = 0; c < cols; c++) s += w[r * cols + c] * x[c]; y[r] = s; }
        return y;
    }

    private static double[] Add(double[] a, double[] b) => a.Zip(b, (p, q) => p + q).ToArray();
    private static double[] Vec(float[]? a, int n) => a?.Select(v => (double)v).ToArray() ?? new double[n];

    private static object? Key(GgufFile f, string key) => f.TryGetValue(key, out GgufValue v) ? v.Value : null;

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<GgufFile, Dictionary<string, float[]?>> Decoded = new();

    /// <summary>A tensor by name, decoded to floats once per file (null when the file has none).</summary>
    private static float[]? T(GgufFile f, string name)
    {
        Dictionary<string, float[]?> cache = Decoded.GetOrCreateValue(f);
        lock (cache)
        {
            if (cache.TryGetValue(name, out float[]? hit)) return hit;
            float[]? a = null;
            if (f.TryGetTensor(name, out GgufTensorInfo t))
            {
                a = new float[t.Dimensions.Aggregate(1L, (p, d) => p * d)];
                Quantizer.Dequantize(t.Type, f.GetTensorData(t), a);
            }
            return cache[name] = a;
        }
    }
}
