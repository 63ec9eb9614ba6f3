using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Tokenization;

namespace SinkLab.Models;

/// <summary>A Llama-shaped model size for <see cref="SyntheticModel"/>.</summary>
/// <param name="Name">Name on the command line.</param>
/// <param name="Dim">Embedding width.</param>
/// <param name="Layers">Blocks.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads.</param>
/// <param name="Hidden">Feed-forward width.</param>
/// <param name="Vocab">Vocabulary size.</param>
/// <param name="Context">Context length.</param>
public sealed record SyntheticShape(string Name, int Dim, int Layers, int Heads, int KvHeads, int Hidden, int Vocab, int Context)
{
    /// <summary>Parameters in the matrices, embedding and output included.</summary>
    public long Parameters => 2L * Vocab * Dim + Layers * ((long)Dim * Dim * 2 + 2L * Dim * (Dim / Heads * KvHeads) + 3L * Dim * Hidden);
}

/// <summary>
/// Random-weight Llama models of realistic shapes, written as GGUF, so that speed can be measured without
/// downloading weights (<c>sinklab synth</c>). Weights are uniform with 1/√fan-in scale from a seeded generator; the
/// vocabulary is SentencePiece-style (<c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, 256 byte tokens, then
/// placeholders). The outputs are not meaningful text; the arithmetic and memory traffic are those of a real model.
/// </summary>
public static class SyntheticModel
{
    /// <summary>Known shapes: <c>tiny</c> (tests), <c>100m</c> (GPT-2-small-like, Llama layout), <c>1b</c> (TinyLlama-like).</summary>
    public static IReadOnlyList<SyntheticShape> Shapes { get; } =
    [
        new("tiny", 64, 2, 4, 2, 192, 512, 256),
        new("100m", 768, 12, 12, 12, 2048, 32000, 2048),
        new("1b", 2048, 22, 32, 4, 5632, 32000, 2048),
    ];

    /// <summary>The shape called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static SyntheticShape Shape(string name) => Shapes.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"unknown shape '{name}' (known: {string.Join(", ", Shapes.Select(s => s.Name))})", nameof(name));

    /// <summary>Writes a random model of <paramref name="shape"/> with matrices of <paramref name="type"/> to
    /// <paramref name="path"/> (atomically; tensors are generated while they are written).</summary>
    /// <exception cref="ArgumentException">A type the quantizer cannot write, or a width not divisible into its blocks.</exception>
    public static void Write(SyntheticShape shape, GgmlType type, string path, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!Quantizer.Supports(type))
            throw new ArgumentException($"type {type} cannot be written (supported: {string.Join(", ", Enum.GetValues<GgmlType>().Where(Quantizer.Supports))})", nameof(type));
        GgmlTypeInfo.TryGetBlock(type, out int block, out _);
        if (shape.Dim % block != 0 || shape.Hidden % block != 0)
            throw new ArgumentException($"shape {shape.Name}: widths {shape.Dim} and {shape.Hidden} are not multiples of {type}'s block of {block}", nameof(type));
        Write(shape, (_, _) => type, path, seed);
    }

    /// <summary>Writes a random model of <paramref name="shape"/> with each matrix typed as <paramref name="recipe"/>
    /// would type it in a real file (Q4_K_M: Q6_K output, attn_v and ffn_down in some layers, …).</summary>
    public static void Write(SyntheticShape shape, QuantRecipe recipe, string path, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(recipe);
        var names = new List<GgufTensorInfo>();
        Write(shape, (name, dims) => { names.Add(new GgufTensorInfo(name, GgmlType.F32, dims, 0, 0)); return GgmlType.F32; }, path: null, seed);
        Dictionary<string, GgmlType> types = ModelQuantizer.Plan(names, recipe, $"synth:{shape.Name}").ToDictionary(q => q.Name, q => q.To);
        Write(shape, (name, _) => types[name], path, seed);
    }

    private static void Write(SyntheticShape shape, Func<string, long[], GgmlType> typeOf, string? path, int seed)
    {
        const string arch = "llama";
        int headDim = shape.Dim / shape.Heads, kvDim = headDim * shape.KvHeads;
        var w = new GgufWriter();
        w.Add(GgufKeys.Architecture, GgufValue.Of(arch));
        w.Add(GgufKeys.Name, GgufValue.Of($"sinklab-synth-{shape.Name}"));
        w.Add(GgufKeys.Arch(arch, GgufKeys.ContextLength), GgufValue.Of((uint)shape.Context));
        w.Add(GgufKeys.Arch(arch, GgufKeys.EmbeddingLength), GgufValue.Of((uint)shape.Dim));
        w.Add(GgufKeys.Arch(arch, GgufKeys.FeedForwardLength), GgufValue.Of((uint)shape.Hidden));
        w.Add(GgufKeys.Arch(arch, GgufKeys.BlockCount), GgufValue.Of((uint)shape.Layers));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCount), GgufValue.Of((uint)shape.Heads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.HeadCountKv), GgufValue.Of((uint)shape.KvHeads));
        w.Add(GgufKeys.Arch(arch, GgufKeys.RmsEpsilon), GgufValue.Of(1e-5f));
        w.Add(GgufKeys.TokenizerModel, GgufValue.Of("llama"));
        var texts = new string[shape.Vocab];
        var types = new int[shape.Vocab];
        texts[0] = "<unk>"; types[0] = (int)TokenType.Unknown;
        texts[1] = "<s>"; types[1] = (int)TokenType.Control;
        texts[2] = "</s>"; types[2] = (int)TokenType.Control;
        for (int i = 3; i < shape.Vocab; i++)
        {
            texts[i] = i < 259 ? $"<0x{i - 3:X2}>" : $"▁t{i}";
            types[i] = i < 259 ? (int)TokenType.Byte : (int)TokenType.Normal;
        }
        w.Add(GgufKeys.Tokens, GgufValue.Of(new GgufArray(GgufValueType.String, texts)));
        w.Add(GgufKeys.Scores, GgufValue.Of(new GgufArray(GgufValueType.Float32, new float[shape.Vocab])));
        w.Add(GgufKeys.TokenTypes, GgufValue.Of(new GgufArray(GgufValueType.Int32, types)));
        w.Add(GgufKeys.BosId, GgufValue.Of(1u));
        w.Add(GgufKeys.EosId, GgufValue.Of(2u));

        int tensor = 0;
        void Matrix(string name, int rows, int cols)
        {
            int id = tensor++;
            GgmlType type = typeOf(name, [cols, rows]);
            w.AddTensor(name, type, [cols, rows], () =>
            {
                var rng = new Random(HashCombine(seed, id));
                var x = new float[(long)rows * cols];
                float scale = (float)(Math.Sqrt(3.0 / cols));
                for (long i = 0; i < x.LongLength; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
                return Quantizer.Quantize(type, x);
            });
        }
        void Ones(string name, int n) => w.AddTensor(name, [n], Enumerable.Repeat(1f, n).ToArray());
        Matrix(GgufKeys.TokenEmbedding, shape.Vocab, shape.Dim);
        Ones(GgufKeys.OutputNorm, shape.Dim);
        Matrix(GgufKeys.Output, shape.Vocab, shape.Dim);
        for (int l = 0; l < shape.Layers; l++)
        {
            Ones(GgufKeys.Block(l, GgufKeys.AttnNorm), shape.Dim);
            Matrix(GgufKeys.Block(l, GgufKeys.AttnQ), shape.Dim, shape.Dim);
            Matrix(GgufKeys.Block(l, GgufKeys.AttnK), kvDim, shape.Dim);
            Matrix(GgufKeys.Block(l, GgufKeys.AttnV), kvDim, shape.Dim);
            Matrix(GgufKeys.Block(l, GgufKeys.AttnOutput), shape.Dim, shape.Dim);
            Ones(GgufKeys.Block(l, GgufKeys.FfnNorm), shape.Dim);
            Matrix(GgufKeys.Block(l, GgufKeys.FfnGate), shape.Hidden, shape.Dim);
            Matrix(GgufKeys.Block(l, GgufKeys.FfnDown), shape.Dim, shape.Hidden);
            Matrix(GgufKeys.Block(l, GgufKeys.FfnUp), shape.Hidden, shape.Dim);
        }
        if (path != null) w.Write(path);
    }

    /// <summary>A per-tensor seed that is the same in every process (no randomised hashing).</summary>
    private static int HashCombine(int seed, int id) => (int)(((uint)seed * 2654435761u) ^ ((uint)id * 2246822519u) ^ 0x5bd1e995u) & 0x7FFFFFFF;

    /// <summary>Weights a token is multiplied with: every block matrix and the output matrix.</summary>
    public static long MatrixParametersPerToken(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        static long N(WeightMatrix m) => (long)m.Rows * m.Cols;
        long total = N(model.Weights.Output);
        foreach (LayerWeights l in model.Weights.Layers)
            total += N(l.Wq) + N(l.Wk) + N(l.Wv) + N(l.Wo) + N(l.FfnGate) + N(l.FfnUp) + N(l.FfnDown);
        return total;
    }

    /// <summary>Bytes of weights a decode step reads: every block matrix and the output matrix (the embedding lookup
    /// reads one row).</summary>
    public static long WeightBytesPerToken(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        static long Bytes(WeightMatrix m) => GgmlTypeInfo.ByteSize(m.Type, (long)m.Rows * m.Cols);
        long total = Bytes(model.Weights.Output);
        foreach (LayerWeights l in model.Weights.Layers)
            total += Bytes(l.Wq) + Bytes(l.Wk) + Bytes(l.Wv) + Bytes(l.Wo) + Bytes(l.FfnGate) + Bytes(l.FfnUp) + Bytes(l.FfnDown);
        return total;
    }
}
