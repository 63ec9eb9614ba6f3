using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Models;
using SinkLab.Tokenization;

namespace SinkLab.Tests.Models;

/// <summary>Random-weight llama models written by our writer, with the float weights kept for reference forwards.</summary>
internal sealed class FixtureModel
{
    public required int Dim, Hidden, Layers, Heads, KvHeads, Vocab, Context;
    public float FreqBase = 10000f;
    public float RmsEps = 1e-5f;
    public bool Tied;
    public float[]? RopeFreqFactors;
    public GgmlType MatrixType = GgmlType.F32;
    public string Variant = "softmax";
    public string Arch = "llama";   // "qwen2": NeoX RoPE and Q/K/V biases
    public float[][] BiasQ = [], BiasK = [], BiasV = [];
    public float SigmoidBias = -2f;
    public float[][] Sinks = [], GateW = [];
    public int Seed = 7;

    public float[] Embedding = [], OutputNorm = [], Output = [];
    public float[][] AttnNorm = [], Wq = [], Wk = [], Wv = [], Wo = [], FfnNorm = [], Gate = [], Down = [], Up = [];

    public int HeadDim => Dim / Heads;
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Llama-3.1 rope_freqs for head dimension <paramref name="headDim"/> (factor 8, low 1, high 4).</summary>
    public static float[] Llama31Factors(int headDim, float freqBase, int original = 300)
    {
        // The real recipe with a small "original context" so that all three regimes occur for a tiny head.
        const double factor = 8, low = 1, high = 4;
        double lowWavelen = original / low, highWavelen = original / high;
        var f = new float[headDim / 2];
        for (int i = 0; i < f.Length; i++)
        {
            double freq = Math.Pow(freqBase, -2.0 * i / headDim), wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) f[i] = 1;
            else if (wavelen > lowWavelen) f[i] = (float)factor;
            else
            {
                double smooth = (original / wavelen - low) / (high - low);
                f[i] = (float)(1 / ((1 - smooth) / factor + smooth));
            }
        }
        return f;
    }

    public GgufWriter Build()
    {
        var rng = new Random(Seed);
        float[] R(int n, double scale) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale); return a; }
        float[] Norm(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(0.8 + 0.4 * rng.NextDouble()); return a; }
        double s = 1 / Math.Sqrt(Dim);
        Embedding = R(Vocab * Dim, 1);
        OutputNorm = Norm(Dim);
        Output = Tied ? Embedding : R(Vocab * Dim, s);
        AttnNorm = new float[Layers][]; Wq = new float[Layers][]; Wk = new float[Layers][]; Wv = new float[Layers][]; Wo = new float[Layers][];
        FfnNorm = new float[Layers][]; Gate = new float[Layers][]; Down = new float[Layers][]; Up = new float[Layers][];
        for (int l = 0; l < Layers; l++)
        {
            AttnNorm[l] = Norm(Dim); Wq[l] = R(Dim * Dim, s * 2); Wk[l] = R(KvDim * Dim, s * 2); Wv[l] = R(KvDim * Dim, s); Wo[l] = R(Dim * Dim, s);
            FfnNorm[l] = Norm(Dim); Gate[l] = R(Hidden * Dim, s); Up[l] = R(Hidden * Dim, s); Down[l] = R(Dim * Hidden, 1 / Math.Sqrt(Hidden));
        }
        Sinks = Enumerable.Range(0, Layers).Select(_ => R(Heads, 3)).ToArray();
        if (Arch == "qwen2")
        {
            BiasQ = Enumerable.Range(0, Layers).Select(_ => R(Dim, 0.5)).ToArray();
            BiasK = Enumerable.Range(0, Layers).Select(_ => R(KvDim, 0.5)).ToArray();
            BiasV = Enumerable.Range(0, Layers).Select(_ => R(KvDim, 0.5)).ToArray();
        }
        GateW = Enumerable.Range(0, Layers).Select(_ => R(Heads * Dim, s * 3)).ToArray();
        // Quantized types: the reference forward must see the weights the engine sees.
        if (MatrixType != GgmlType.F32)
        {
            void RoundTrip(float[] a) => Quantizer.Dequantize(MatrixType, Quantizer.Quantize(MatrixType, a), a);
            foreach (var set in new[] { Wq, Wk, Wv, Wo, Gate, Up, Down }) foreach (var a in set) RoundTrip(a);
            RoundTrip(Embedding);
            if (!Tied) RoundTrip(Output);
        }

        string arch = Arch;
        var w = new GgufWriter();
        w.Add(GgufKeys.Architecture, GgufValue.Of(arch));
        w.Add(GgufKeys.Arch(arch, GgufKeys.ContextLength), GgufValue.Of((uint)Context));
        w.Add(GgufKeys.Arch(arch, GgufKeys.EmbeddingLength), GgufValue.Of((uint)Dim));
        w.Add(GgufKeys.Arch(arch, GgufKeys.FeedForwardLength), GgufValue.Of((uint)Hidden));
        w.Add(GgufKeys.Arch(arch, GgufKeys.BlockCount), GgufValue.Of((uint)Layers));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCount), GgufValue.Of((uint)Heads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCountKv), GgufValue.Of((uint)KvHeads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RopeFreqBase), GgufValue.Of(FreqBase));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RmsEpsilon), GgufValue.Of(RmsEps));
        if (Variant != "softmax") w.Add(GgufKeys.AttentionVariant, GgufValue.Of(Variant));
        if (Variant == "sigmoid") w.Add(GgufKeys.SigmoidBias, GgufValue.Of(SigmoidBias));
        w.Add(GgufKeys.TokenizerModel, GgufValue.Of("llama"));
        var texts = new string[Vocab];
        var types = new int[Vocab];
        texts[0] = "<unk>"; types[0] = (int)TokenType.Unknown;
        texts[1] = "<s>"; types[1] = (int)TokenType.Control;
        texts[2] = "</s>"; types[2] = (int)TokenType.Control;
        for (int i = 3; i < Vocab; i++) { texts[i] = i < 259 ? $"<0x{i - 3:X2}>" : $"tok{i}"; types[i] = i < 259 ? (int)TokenType.Byte : (int)TokenType.Normal; }
        w.Add(GgufKeys.Tokens, GgufValue.Of(new GgufArray(GgufValueType.String, texts)));
        w.Add(GgufKeys.Scores, GgufValue.Of(new GgufArray(GgufValueType.Float32, new float[Vocab])));
        w.Add(GgufKeys.TokenTypes, GgufValue.Of(new GgufArray(GgufValueType.Int32, types)));
        w.Add(GgufKeys.BosId, GgufValue.Of(1u));
        w.Add(GgufKeys.EosId, GgufValue.Of(2u));

        void M(string name, float[] data, int rows, int cols) => w.AddTensor(name, MatrixType, [cols, rows], Quantizer.Quantize(MatrixType, data));
        M(GgufKeys.TokenEmbedding, Embedding, Vocab, Dim);
        w.AddTensor(GgufKeys.OutputNorm, [Dim], OutputNorm);
        if (!Tied) M(GgufKeys.Output, Output, Vocab, Dim);
        if (RopeFreqFactors != null) w.AddTensor(GgufKeys.RopeFreqs, [RopeFreqFactors.Length], RopeFreqFactors);
        for (int l = 0; l < Layers; l++)
        {
            w.AddTensor(GgufKeys.Block(l, GgufKeys.AttnNorm), [Dim], AttnNorm[l]);
            M(GgufKeys.Block(l, GgufKeys.AttnQ), Wq[l], Dim, Dim);
            M(GgufKeys.Block(l, GgufKeys.AttnK), Wk[l], KvDim, Dim);
            M(GgufKeys.Block(l, GgufKeys.AttnV), Wv[l], KvDim, Dim);
            M(GgufKeys.Block(l, GgufKeys.AttnOutput), Wo[l], Dim, Dim);
            w.AddTensor(GgufKeys.Block(l, GgufKeys.FfnNorm), [Dim], FfnNorm[l]);
            M(GgufKeys.Block(l, GgufKeys.FfnGate), Gate[l], Hidden, Dim);
            M(GgufKeys.Block(l, GgufKeys.FfnDown), Down[l], Dim, Hidden);
            M(GgufKeys.Block(l, GgufKeys.FfnUp), Up[l], Hidden, Dim);
            if (Arch == "qwen2")
            {
                w.AddTensor(GgufKeys.Block(l, GgufKeys.AttnQBias), [Dim], BiasQ[l]);
                w.AddTensor(GgufKeys.Block(l, GgufKeys.AttnKBias), [KvDim], BiasK[l]);
                w.AddTensor(GgufKeys.Block(l, GgufKeys.AttnVBias), [KvDim], BiasV[l]);
            }
            if (Variant == "sink-logit") w.AddTensor(GgufKeys.Block(l, GgufKeys.AttnSinks), [Heads], Sinks[l]);
            if (Variant == "gated") w.AddTensor(GgufKeys.Block(l, GgufKeys.AttnGate), [Dim, Heads], GateW[l]);
        }
        return w;
    }

    public byte[] Bytes()
    {
        using var ms = new MemoryStream();
        Build().Write(ms);
        return ms.ToArray();
    }

    public Model Load() => Model.FromGguf(GgufFile.Parse(Bytes(), "fixture.gguf"));

    public static FixtureModel Llama3Like(GgmlType type = GgmlType.F32) => new()
    {
        Dim = 64, Hidden = 96, Layers = 2, Heads = 8, KvHeads = 2, Vocab = 300, Context = 64,
        FreqBase = 500000f, RopeFreqFactors = Llama31Factors(8, 500000f), MatrixType = type,
    };
}
