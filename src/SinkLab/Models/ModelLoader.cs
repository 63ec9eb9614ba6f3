using SinkLab.Gguf;
using SinkLab.Tokenization;

namespace SinkLab.Models;

/// <summary>Reads hyper-parameters through the registry, checks every tensor's presence, type and shape.</summary>
internal static unsafe class ModelLoader
{
    private static readonly GgmlType[] MatrixTypes = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
        GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static Model Load(GgufFile f)
    {
        string arch = f.GetString(GgufKeys.Architecture);
        ArchitectureSpec spec = ArchitectureRegistry.Get(arch, f.FilePath);
        string K(string suffix) => GgufKeys.Arch(arch, suffix);

        ITokenizer tokenizer = TokenizerFactory.FromGguf(f);
        int dim = f.GetInt(K(GgufKeys.EmbeddingLength), 1, 1 << 16);
        int heads = f.GetInt(K(GgufKeys.HeadCount), 1, 1 << 12);
        int kvHeads = f.GetInt(K(GgufKeys.HeadCountKv), heads, 1, heads);
        if (heads % kvHeads != 0)
            throw new GgufFormatException(f.FilePath, -1, $"metadata key '{K(GgufKeys.HeadCountKv)}'", $"a divisor of head_count {heads}", kvHeads.ToString());
        int headDim = f.GetInt(K(GgufKeys.KeyLength), dim / heads, 1, 1 << 12);
        if (dim % heads != 0 && !f.TryGetValue(K(GgufKeys.KeyLength), out _))
            throw new GgufFormatException(f.FilePath, -1, $"metadata key '{K(GgufKeys.HeadCount)}'", $"a divisor of embedding_length {dim}", heads.ToString());
        if (f.GetInt(K(GgufKeys.ValueLength), headDim, 1, 1 << 12) != headDim)
            throw new ModelNotSupportedException(K(GgufKeys.ValueLength), $"{f.FilePath}: value_length different from key_length is not supported");
        int ropeDim = f.GetInt(K(GgufKeys.RopeDimensionCount), headDim, 2, headDim);
        if (ropeDim % 2 != 0)
            throw new GgufFormatException(f.FilePath, -1, $"metadata key '{K(GgufKeys.RopeDimensionCount)}'", "an even number", ropeDim.ToString());

        string? scaling = f.GetStringOrNull(K(GgufKeys.RopeScalingType));
        float freqScale = 1f;
        if (scaling is "linear")
        {
            float factor = f.GetFloat(K(GgufKeys.RopeScalingFactor), 1f);
            if (factor <= 0) throw new GgufFormatException(f.FilePath, -1, $"metadata key '{K(GgufKeys.RopeScalingFactor)}'", "a positive factor", factor.ToString(System.Globalization.CultureInfo.InvariantCulture));
            freqScale = 1f / factor;
        }
        else if (scaling is not (null or "none"))
            throw new ModelNotSupportedException(scaling, $"{f.FilePath}: rope scaling '{scaling}' is not supported (supported: none, linear, llama3 via rope_freqs.weight)");

        GgufTensorInfo embInfo = Tensor(f, GgufKeys.TokenEmbedding);
        int vocab = (int)Math.Min(int.MaxValue, embInfo.RowCount);
        if (vocab != tokenizer.VocabSize)
            throw new GgufFormatException(f.FilePath, -1, $"tensor '{GgufKeys.TokenEmbedding}' rows", $"the vocabulary size {tokenizer.VocabSize}", vocab.ToString());

        string variantName = f.GetStringOrNull(GgufKeys.AttentionVariant) ?? "softmax";
        if (!AttentionVariantNames.TryParse(variantName, out AttentionVariant variant))
            throw new ModelNotSupportedException(variantName,
                $"{f.FilePath}: attention variant '{variantName}' is not supported (supported: {string.Join(", ", AttentionVariantNames.All)})");
        var config = new ModelConfig
        {
            Architecture = arch,
            VocabSize = vocab,
            ContextLength = f.GetInt(K(GgufKeys.ContextLength), 1, int.MaxValue),
            Dim = dim,
            HiddenDim = f.GetInt(K(GgufKeys.FeedForwardLength), 1, 1 << 20),
            Layers = f.GetInt(K(GgufKeys.BlockCount), 1, 4096),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            RmsEps = f.GetFloat(K(GgufKeys.RmsEpsilon), 1e-5f),
            RopeFreqBase = f.GetFloat(K(GgufKeys.RopeFreqBase), 10000f),
            RopeDim = ropeDim,
            RopeStyle = spec.Rope,
            RopeFreqScale = freqScale,
            TiedOutput = !f.TryGetTensor(GgufKeys.Output, out _),
            Attention = variant,
            SigmoidBias = f.GetFloat(GgufKeys.SigmoidBias, 0f),
        };
        if (config.RmsEps <= 0 || config.RopeFreqBase <= 0)
            throw new GgufFormatException(f.FilePath, -1, "rms epsilon / rope.freq_base", "positive values", $"{config.RmsEps} / {config.RopeFreqBase}");

        // Required where the architecture has them; read when present otherwise.
        float[]? Bias(string name, int length) => spec.QkvBias || f.TryGetTensor(name, out _) ? Vector(f, name, length) : null;
        var layers = new LayerWeights[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            string B(string s) => GgufKeys.Block(l, s);
            layers[l] = new LayerWeights
            {
                AttnNorm = Vector(f, B(GgufKeys.AttnNorm), dim),
                Wq = Matrix(f, B(GgufKeys.AttnQ), config.QDim, dim),
                Wk = Matrix(f, B(GgufKeys.AttnK), config.KvDim, dim),
                Wv = Matrix(f, B(GgufKeys.AttnV), config.KvDim, dim),
                Wo = Matrix(f, B(GgufKeys.AttnOutput), dim, config.QDim),
                FfnNorm = Vector(f, B(GgufKeys.FfnNorm), dim),
                FfnGate = Matrix(f, B(GgufKeys.FfnGate), config.HiddenDim, dim),
                FfnDown = Matrix(f, B(GgufKeys.FfnDown), dim, config.HiddenDim),
                FfnUp = Matrix(f, B(GgufKeys.FfnUp), config.HiddenDim, dim),
                BiasQ = Bias(B(GgufKeys.AttnQBias), config.QDim),
                BiasK = Bias(B(GgufKeys.AttnKBias), config.KvDim),
                BiasV = Bias(B(GgufKeys.AttnVBias), config.KvDim),
                AttnSinks = variant == AttentionVariant.SinkLogit || f.TryGetTensor(B(GgufKeys.AttnSinks), out _) ? Vector(f, B(GgufKeys.AttnSinks), heads) : null,
                AttnGate = variant == AttentionVariant.Gated ? Matrix(f, B(GgufKeys.AttnGate), heads, dim) : null,
            };
        }
        WeightMatrix emb = Matrix(f, GgufKeys.TokenEmbedding, vocab, dim);
        var weights = new ModelWeights
        {
            TokenEmbedding = emb,
            Layers = layers,
            OutputNorm = Vector(f, GgufKeys.OutputNorm, dim),
            Output = config.TiedOutput ? emb : Matrix(f, GgufKeys.Output, vocab, dim),
            RopeFreqFactors = f.TryGetTensor(GgufKeys.RopeFreqs, out _) ? Vector(f, GgufKeys.RopeFreqs, ropeDim / 2) : null,
        };
        if (weights.RopeFreqFactors is { } ff && Array.Exists(ff, x => !(x > 0) || !float.IsFinite(x)))
            throw new GgufFormatException(f.FilePath, -1, $"tensor '{GgufKeys.RopeFreqs}'", "positive finite factors", "a zero, negative or non-finite value");
        return new Model(f, config, weights, tokenizer);
    }

    private static GgufTensorInfo Tensor(GgufFile f, string name)
        => f.TryGetTensor(name, out GgufTensorInfo t) ? t
            : throw new GgufFormatException(f.FilePath, -1, $"tensor '{name}'", "present", "missing");

    private static WeightMatrix Matrix(GgufFile f, string name, int rows, int cols)
    {
        GgufTensorInfo t = Tensor(f, name);
        CheckShape(f, t, [cols, rows]);
        if (Array.IndexOf(MatrixTypes, t.Type) < 0)
            throw new ModelNotSupportedException(t.Type.ToString(),
                $"{f.FilePath}: tensor '{name}' has type {t.Type}; supported: {string.Join(", ", MatrixTypes)}");
        return new WeightMatrix(name, t.Type, rows, cols, f.TensorPointer(t));
    }

    private static float[] Vector(GgufFile f, string name, int length)
    {
        GgufTensorInfo t = Tensor(f, name);
        CheckShape(f, t, [length]);
        if (!Kernels.Quantizer.Supports(t.Type))
            throw new ModelNotSupportedException(t.Type.ToString(), $"{f.FilePath}: tensor '{name}' has unsupported type {t.Type}");
        var v = new float[length];
        Kernels.Quantizer.Dequantize(t.Type, f.GetTensorData(t), v);
        return v;
    }

    private static void CheckShape(GgufFile f, GgufTensorInfo t, long[] expected)
    {
        // Trailing dimensions of 1 are the same shape to ggml.
        long[] actual = t.Dimensions;
        int n = actual.Length;
        while (n > expected.Length && actual[n - 1] == 1) n--;
        if (n != expected.Length || !actual.AsSpan(0, n).SequenceEqual(expected))
            throw new GgufFormatException(f.FilePath, f.DataOffset + t.Offset, $"tensor '{t.Name}' shape",
                "[" + string.Join(", ", expected) + "] (from the hyper-parameters)", t.ShapeText);
    }
}
