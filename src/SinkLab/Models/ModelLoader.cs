using System.Globalization;
using SinkLab.Gguf;
using SinkLab.Tokenization;

namespace SinkLab.Models;

/// <summary>
/// Reads the hyper-parameters through the architecture's registry row into a <see cref="ModelConfig"/>, then finds
/// every tensor the description needs, checking presence, type and shape. Tensors are read by llama.cpp's names,
/// which are the same for every architecture; fused forms (attn_qkv, Phi-3's gate|up) are split into views, and
/// biases are read wherever the file has them.
/// </summary>
internal static unsafe class ModelLoader
{
    /// <summary>Every type the engine multiplies with: the float types and every type with an integer kernel.</summary>
    internal static readonly GgmlType[] MatrixTypes = Enum.GetValues<GgmlType>()
        .Where(t => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 || Kernels.QuantDot.Supports(t)).ToArray();

    public static Model Load(GgufFile f)
    {
        ITokenizer tokenizer = TokenizerFactory.FromGguf(f);
        var (arch, config) = ReadConfig(f);
        if (config.VocabSize != tokenizer.VocabSize)
            throw new GgufFormatException(f.FilePath, -1, $"tensor '{GgufKeys.TokenEmbedding}' rows", $"the vocabulary size {tokenizer.VocabSize}", config.VocabSize.ToString(CultureInfo.InvariantCulture));
        return new Model(f, config, LoadWeights(f, config, arch.Layout), tokenizer);
    }

    /// <summary>The architecture and normalised configuration of <paramref name="f"/> (keys and tensor shapes only).
    /// With <paramref name="tokenEmbeddingRows"/>, a file of keys alone is read for planning its tensors: the vocabulary
    /// is that many tokens and a learned position table has context_length rows.</summary>
    public static (Architecture Arch, ModelConfig Config) ReadConfig(GgufFile f, int? tokenEmbeddingRows = null)
    {
        string name = f.GetString(GgufKeys.Architecture);
        Architecture arch = ArchitectureRegistry.Get(name, f.FilePath);
        var k = new ArchKeys(f, name, planning: tokenEmbeddingRows != null);
        string S(string suffix) => k.Key(suffix);
        static string Text(double v) => v.ToString(CultureInfo.InvariantCulture);

        int dim = k.Int(GgufKeys.EmbeddingLength, 1, 1 << 16);
        int heads = k.Int(GgufKeys.HeadCount, 1, 1 << 12);
        int kvHeads = k.Int(GgufKeys.HeadCountKv, heads, 1, heads);
        if (heads % kvHeads != 0)
            throw new GgufFormatException(f.FilePath, -1, $"metadata key '{S(GgufKeys.HeadCountKv)}'", $"a divisor of head_count {heads}", Text(kvHeads));
        if (dim % heads != 0 && !k.Has(GgufKeys.KeyLength))
            throw new GgufFormatException(f.FilePath, -1, $"metadata key '{S(GgufKeys.HeadCount)}'", $"a divisor of embedding_length {dim}", Text(heads));
        int headDim = k.Int(GgufKeys.KeyLength, dim / heads, 1, 1 << 12);
        if (k.Int(GgufKeys.ValueLength, headDim, 1, 1 << 12) != headDim)
            throw new ModelNotSupportedException(S(GgufKeys.ValueLength), $"{f.FilePath}: value_length different from key_length is not supported");
        int layers = k.Int(GgufKeys.BlockCount, 1, 4096);
        float eps = k.Float(arch.Norm == NormKind.RmsNorm ? GgufKeys.RmsEpsilon : GgufKeys.LayerNormEpsilon);
        if (!(eps > 0)) throw new GgufFormatException(f.FilePath, -1, $"metadata key '{S(arch.Norm == NormKind.RmsNorm ? GgufKeys.RmsEpsilon : GgufKeys.LayerNormEpsilon)}'", "a positive epsilon", Text(eps));

        var sizes = new ModelSizes(dim, layers, heads, headDim);
        BlockDescription block = arch.Describe(k, sizes) with { Norm = arch.Norm };
        if (block.AttnSoftCap < 0 || block.FinalSoftCap < 0 || block.ClampQkv < 0 || block.AlibiMaxBias < 0)
            throw new GgufFormatException(f.FilePath, -1, $"{name} soft-caps / clamp_kqv / max_alibi_bias", "non-negative values",
                $"{Text(block.AttnSoftCap)} / {Text(block.FinalSoftCap)} / {Text(block.ClampQkv)} / {Text(block.AlibiMaxBias)}");

        bool rope = block.Positions == PositionKind.Rope;
        int ropeDim = rope ? k.Int(GgufKeys.RopeDimensionCount, headDim, 2, headDim) : 0;
        if (ropeDim % 2 != 0)
            throw new GgufFormatException(f.FilePath, -1, $"metadata key '{S(GgufKeys.RopeDimensionCount)}'", "an even number", Text(ropeDim));
        float freqBase = k.Float(GgufKeys.RopeFreqBase, 10000f);
        if (!(freqBase > 0)) throw new GgufFormatException(f.FilePath, -1, $"metadata key '{S(GgufKeys.RopeFreqBase)}'", "a positive base", Text(freqBase));
        var global = RopeOf(f, k, freqBase);
        LayerSpec[] specs = arch.LayerSpecs(k, sizes, global);
        foreach (LayerSpec spec in specs)
            if (!(spec.Rope.Base > 0))
                throw new GgufFormatException(f.FilePath, -1, $"metadata key '{S(GgufKeys.RopeFreqBaseSwa)}'", "a positive base", Text(spec.Rope.Base));

        int context = k.Int(GgufKeys.ContextLength, 1, int.MaxValue);
        int vocab = tokenEmbeddingRows ?? (int)Math.Min(int.MaxValue, Tensor(f, GgufKeys.TokenEmbedding).RowCount);
        int positionRows = block.Positions != PositionKind.Learned ? 0
            : tokenEmbeddingRows != null ? context : (int)Math.Min(int.MaxValue, Tensor(f, GgufKeys.PositionEmbedding).RowCount);

        string variantName = f.GetStringOrNull(GgufKeys.AttentionVariant) ?? "softmax";
        if (!AttentionVariantNames.TryParse(variantName, out AttentionVariant variant))
            throw new ModelNotSupportedException(variantName,
                $"{f.FilePath}: attention variant '{variantName}' is not supported (supported: {string.Join(", ", AttentionVariantNames.All)})");
        if (arch.Layout.AttnSinks) variant = AttentionVariant.SinkLogit;   // gpt-oss: learned sink logits in every layer
        var config = new ModelConfig
        {
            Architecture = name,
            VocabSize = vocab,
            ContextLength = context,
            Dim = dim,
            HiddenDim = k.Int(GgufKeys.FeedForwardLength, 1, 1 << 20),
            Layers = layers,
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            NormEps = eps,
            RopeFreqBase = freqBase,
            RopeDim = ropeDim,
            RopeStyle = arch.RopeStyle,
            RopeFreqScale = global.FreqScale,
            TiedOutput = !arch.Layout.Output || (tokenEmbeddingRows == null && !f.TryGetTensor(GgufKeys.Output, out _)),
            Attention = variant,
            SigmoidBias = f.GetFloat(GgufKeys.SigmoidBias, 0f),
            Block = block,
            LayerSpecs = specs,
            PositionRows = positionRows,
        };
        return (arch, config);
    }

    /// <summary>The RoPE of the model's layers: linear scaling (1 / rope.scaling.factor), YaRN (factor and
    /// rope.scaling.original_context_length, llama.cpp's default β and attention factor), or none; other scalings,
    /// and YaRN keys SinkLab does not apply, are refused by name.</summary>
    private static RopeConfig RopeOf(GgufFile f, ArchKeys k, float freqBase)
    {
        string? scaling = f.GetStringOrNull(k.Key(GgufKeys.RopeScalingType));
        if (scaling is null or "none") return new RopeConfig(freqBase);
        if (scaling is not ("linear" or "yarn"))
            throw new ModelNotSupportedException(scaling, $"{f.FilePath}: rope scaling '{scaling}' is not supported (supported: none, linear, yarn, llama3 via rope_freqs.weight)");
        float factor = k.Float(GgufKeys.RopeScalingFactor, 1f);
        if (!(factor > 0)) throw new GgufFormatException(f.FilePath, -1, $"metadata key '{k.Key(GgufKeys.RopeScalingFactor)}'", "a positive factor", factor.ToString(CultureInfo.InvariantCulture));
        if (scaling == "linear") return new RopeConfig(freqBase, 1f / factor);
        foreach (string key in new[] { "rope.scaling.attn_factor", "rope.scaling.yarn_beta_fast", "rope.scaling.yarn_beta_slow", "rope.scaling.yarn_ext_factor", "rope.scaling.yarn_log_multiplier" })
            if (f.TryGetValue(k.Key(key), out _))
                throw new ModelNotSupportedException(key, $"{f.FilePath}: YaRN with '{k.Key(key)}' is not supported (SinkLab applies llama.cpp's defaults only)");
        int original = k.Int(GgufKeys.RopeScalingOriginalContext, 1, int.MaxValue);
        return new RopeConfig(freqBase, 1f, new YarnScaling(factor, original));
    }

    private static ModelWeights LoadWeights(GgufFile f, ModelConfig c, TensorLayout layout)
    {
        BlockDescription b = c.Block;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim;
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string B(string s) => GgufKeys.Block(l, s);
            NormWeights? N(string weight, string? bias) => Norm(f, B(weight), bias == null ? null : B(bias), dim);

            WeightMatrix wq, wk, wv;
            float[]? bq, bk, bv;
            if (f.TryGetTensor(B(GgufKeys.AttnQkv), out _))
            {
                WeightMatrix qkv = Matrix(f, B(GgufKeys.AttnQkv), qDim + 2 * kvDim, dim);
                wq = qkv.Slice(0, qDim, "q"); wk = qkv.Slice(qDim, kvDim, "k"); wv = qkv.Slice(qDim + kvDim, kvDim, "v");
                float[]? bias = OptionalVector(f, B(GgufKeys.AttnQkvBias), qDim + 2 * kvDim);
                bq = bias?[..qDim]; bk = bias?[qDim..(qDim + kvDim)]; bv = bias?[(qDim + kvDim)..];
            }
            else
            {
                wq = Matrix(f, B(GgufKeys.AttnQ), qDim, dim);
                wk = Matrix(f, B(GgufKeys.AttnK), kvDim, dim);
                wv = Matrix(f, B(GgufKeys.AttnV), kvDim, dim);
                bq = OptionalVector(f, B(GgufKeys.AttnQBias), qDim);
                bk = OptionalVector(f, B(GgufKeys.AttnKBias), kvDim);
                bv = OptionalVector(f, B(GgufKeys.AttnVBias), kvDim);
            }

            WeightMatrix? gate = null, up;
            if (b.Moe != null) up = null;
            else if (!b.Gated) up = Matrix(f, B(GgufKeys.FfnUp), hidden, dim);
            else if (f.TryGetTensor(B(GgufKeys.FfnGate), out _))
            {
                gate = Matrix(f, B(GgufKeys.FfnGate), hidden, dim);
                up = Matrix(f, B(GgufKeys.FfnUp), hidden, dim);
            }
            else
            {
                WeightMatrix gateUp = Matrix(f, B(GgufKeys.FfnUp), 2 * hidden, dim);   // phi3: gate rows, then up rows
                gate = gateUp.Slice(0, hidden, "gate");
                up = gateUp.Slice(hidden, hidden, "up");
            }

            int qkWidth = b.QkNorm == QkNormKind.PerHead ? c.HeadDim : qDim, kWidth = b.QkNorm == QkNormKind.PerHead ? c.HeadDim : kvDim;
            layers[l] = new LayerWeights
            {
                AttnNorm = b.HasPreNorms ? N(GgufKeys.AttnNorm, GgufKeys.AttnNormBias) : null,
                AttnPostNorm = b.HasPostNorms ? N(GgufKeys.PostAttentionNorm, null) : null,
                FfnNorm = b.HasPreNorms && b.Residual != ResidualKind.ParallelSharedNorm ? N(layout.FfnNorm, GgufKeys.FfnNormBias) : null,
                FfnPostNorm = b.HasPostNorms ? N(GgufKeys.PostFfwNorm, null) : null,
                Wq = wq, Wk = wk, Wv = wv,
                BiasQ = bq, BiasK = bk, BiasV = bv,
                Wo = Matrix(f, B(GgufKeys.AttnOutput), dim, qDim),
                BiasO = OptionalVector(f, B(GgufKeys.AttnOutputBias), dim),
                QNorm = b.QkNorm == QkNormKind.None ? null : new NormWeights(Vector(f, B(GgufKeys.AttnQNorm), qkWidth)),
                KNorm = b.QkNorm == QkNormKind.None ? null : new NormWeights(Vector(f, B(GgufKeys.AttnKNorm), kWidth)),
                FfnGate = gate,
                FfnUp = up,
                FfnDown = b.Moe == null ? Matrix(f, B(GgufKeys.FfnDown), dim, hidden) : null,
                Experts = b.Moe is { } moe ? Experts(f, l, moe, dim) : null,
                BiasGate = gate == null ? null : OptionalVector(f, B(GgufKeys.FfnGateBias), hidden),
                BiasUp = b.Moe == null ? OptionalVector(f, B(GgufKeys.FfnUpBias), hidden) : null,
                BiasDown = b.Moe == null ? OptionalVector(f, B(GgufKeys.FfnDownBias), dim) : null,
                AttnSinks = c.Attention == AttentionVariant.SinkLogit || layout.AttnSinks || f.TryGetTensor(B(GgufKeys.AttnSinks), out _) ? Vector(f, B(GgufKeys.AttnSinks), c.Heads) : null,
                AttnGate = c.Attention == AttentionVariant.Gated ? Matrix(f, B(GgufKeys.AttnGate), c.Heads, dim) : null,
            };
        }
        WeightMatrix emb = Matrix(f, GgufKeys.TokenEmbedding, c.VocabSize, dim);
        var weights = new ModelWeights
        {
            TokenEmbedding = emb,
            PositionEmbedding = c.PositionRows > 0 ? Matrix(f, GgufKeys.PositionEmbedding, c.PositionRows, dim) : null,
            Layers = layers,
            OutputNorm = Norm(f, GgufKeys.OutputNorm, GgufKeys.OutputNormBias, dim)!,
            Output = c.TiedOutput ? emb : Matrix(f, GgufKeys.Output, c.VocabSize, dim),
            RopeFreqFactors = c.RopeDim > 0 && f.TryGetTensor(GgufKeys.RopeFreqs, out _) ? Vector(f, GgufKeys.RopeFreqs, c.RopeDim / 2) : null,
        };
        if (weights.RopeFreqFactors is { } ff && Array.Exists(ff, x => !(x > 0) || !float.IsFinite(x)))
            throw new GgufFormatException(f.FilePath, -1, $"tensor '{GgufKeys.RopeFreqs}'", "positive finite factors", "a zero, negative or non-finite value");
        return weights;
    }

    /// <summary>Router and experts of block <paramref name="l"/>: the 3-D expert tensors (ggml ne [cols, rows, experts])
    /// viewed as one matrix of experts·rows rows and split into per-expert views; shapes that disagree with expert_count
    /// or the expert width name the tensor.</summary>
    private static ExpertWeights Experts(GgufFile f, int l, MoeSpec m, int dim)
    {
        string B(string s) => GgufKeys.Block(l, s);
        int e = m.Experts, h = m.ExpertHidden;
        // Shared experts: their width is the up projection's row count (checked against gate and down below).
        int shared = f.TryGetTensor(B(GgufKeys.FfnUpShexp), out GgufTensorInfo up) ? checked((int)up.Dimensions[^1]) : 0;
        WeightMatrix[] Split(string name, int rows, int cols)
        {
            WeightMatrix all = Matrix(f, name, rows, cols, experts: e);
            return [.. Enumerable.Range(0, e).Select(i => all.Slice(i * rows, rows, $"expert {i}"))];
        }
        float[][]? Biases(string name, int width)
        {
            if (!f.TryGetTensor(name, out _)) return null;
            float[] v = Vector(f, name, width, experts: e);
            return [.. Enumerable.Range(0, e).Select(i => v[(i * width)..((i + 1) * width)])];
        }
        return new ExpertWeights
        {
            Router = Matrix(f, B(GgufKeys.FfnGateInp), e, dim),
            RouterBias = OptionalVector(f, B(GgufKeys.FfnGateInpBias), e),
            Gate = Split(B(GgufKeys.FfnGateExps), h, dim),
            Up = Split(B(GgufKeys.FfnUpExps), h, dim),
            Down = Split(B(GgufKeys.FfnDownExps), dim, h),
            BiasGate = Biases(B(GgufKeys.FfnGateExpsBias), h),
            BiasUp = Biases(B(GgufKeys.FfnUpExpsBias), h),
            BiasDown = Biases(B(GgufKeys.FfnDownExpsBias), dim),
            SharedGate = shared > 0 ? Matrix(f, B(GgufKeys.FfnGateShexp), shared, dim) : null,
            SharedUp = shared > 0 ? Matrix(f, B(GgufKeys.FfnUpShexp), shared, dim) : null,
            SharedDown = shared > 0 ? Matrix(f, B(GgufKeys.FfnDownShexp), dim, shared) : null,
            SharedGateInput = shared > 0 ? OptionalVector(f, B(GgufKeys.FfnGateInpShexp), dim) : null,
        };
    }

    private static GgufTensorInfo Tensor(GgufFile f, string name)
        => f.TryGetTensor(name, out GgufTensorInfo t) ? t
            : throw new GgufFormatException(f.FilePath, -1, $"tensor '{name}'", "present", "missing");

    /// <summary>A matrix of rows × cols; with <paramref name="experts"/> > 0 a 3-D expert tensor [cols, rows, experts]
    /// read as one matrix of experts·rows rows.</summary>
    private static WeightMatrix Matrix(GgufFile f, string name, int rows, int cols, int experts = 0)
    {
        GgufTensorInfo t = Tensor(f, name);
        CheckShape(f, t, experts > 0 ? [cols, rows, experts] : [cols, rows]);
        if (experts > 0) rows = checked(rows * experts);
        if (Array.IndexOf(MatrixTypes, t.Type) < 0)
            throw new ModelNotSupportedException(t.Type.ToString(),
                $"{f.FilePath}: tensor '{name}' has type {GgmlTypeInfo.Describe(t.Type)}, which SinkLab cannot run; supported: {string.Join(", ", MatrixTypes)}");
        return new WeightMatrix(name, t.Type, rows, cols, f.TensorPointer(t), f.IsFileMapped);
    }

    /// <summary>A norm's gain (required) and its bias (when <paramref name="bias"/> names one the file has).</summary>
    private static NormWeights Norm(GgufFile f, string weight, string? bias, int width)
        => new(Vector(f, weight, width), bias == null ? null : OptionalVector(f, bias, width));

    private static float[]? OptionalVector(GgufFile f, string name, int length)
        => f.TryGetTensor(name, out _) ? Vector(f, name, length) : null;

    /// <summary>A vector of <paramref name="length"/>; with <paramref name="experts"/> > 0 a 2-D tensor [length, experts]
    /// decoded whole.</summary>
    private static float[] Vector(GgufFile f, string name, int length, int experts = 0)
    {
        GgufTensorInfo t = Tensor(f, name);
        CheckShape(f, t, experts > 0 ? [length, experts] : [length]);
        if (experts > 0) length = checked(length * experts);
        if (!Kernels.Quantizer.CanDecode(t.Type))
            throw new ModelNotSupportedException(t.Type.ToString(), $"{f.FilePath}: tensor '{name}' has type {GgmlTypeInfo.Describe(t.Type)}, which SinkLab cannot decode");
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
