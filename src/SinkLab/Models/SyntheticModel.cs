using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Tokenization;

namespace SinkLab.Models;

/// <summary>A model size for <see cref="SyntheticModel"/>.</summary>
/// <param name="Name">Name on the command line.</param>
/// <param name="Dim">Embedding width.</param>
/// <param name="Layers">Blocks.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads (architectures without GQA use <paramref name="Heads"/>).</param>
/// <param name="Hidden">Feed-forward width.</param>
/// <param name="Vocab">Vocabulary size.</param>
/// <param name="Context">Context length.</param>
public sealed record SyntheticShape(string Name, int Dim, int Layers, int Heads, int KvHeads, int Hidden, int Vocab, int Context)
{
    /// <summary>Head size when it is not Dim / Heads (written as key_length), else 0.</summary>
    public int HeadDim { get; init; }
    /// <summary>The head size.</summary>
    public int HeadSize => HeadDim > 0 ? HeadDim : Dim / Heads;
    /// <summary>Experts of mixture-of-experts architectures (expert_count), each <see cref="Hidden"/> wide.</summary>
    public int Experts { get; init; } = 4;
    /// <summary>Experts each token uses (expert_used_count).</summary>
    public int ExpertsUsed { get; init; } = 2;
    /// <summary>A fixed sliding window (0: the rule of <see cref="Window"/>).</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Sliding window of architectures that have one: <see cref="SlidingWindow"/>, else a 32nd of the context,
    /// at least 8.</summary>
    public int Window => SlidingWindow > 0 ? SlidingWindow : Math.Max(8, Context / 32);
    /// <summary>Parameters in the matrices, embedding and output included.</summary>
    public long Parameters => 2L * Vocab * Dim + Layers * (2L * Dim * Heads * HeadSize + 2L * Dim * (HeadSize * KvHeads) + 3L * Dim * Hidden);
}

/// <summary>
/// Random-weight models of any supported architecture and realistic shapes, written as GGUF in the layout llama.cpp's
/// converter writes (<c>sinklab synth</c>), so that speed and correctness can be checked without downloading
/// weights. The architecture's keys are written first and read back through the loader, and the tensor list is
/// planned from that configuration, so a synthetic file always loads. Weights are uniform with 1/√fan-in scale from a
/// seeded generator (norm gains near 1, small biases); the vocabulary is SentencePiece-style (<c>&lt;unk&gt;</c>,
/// <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, 256 byte tokens, then placeholders). The outputs are not meaningful text; the
/// arithmetic and memory traffic are those of a real model.
/// </summary>
public static class SyntheticModel
{
    /// <summary>Known shapes: <c>tiny</c> (tests), <c>100m</c> (GPT-2-small-like), <c>1b</c> (TinyLlama-like),
    /// <c>vocab256k</c> (a small body under Gemma's 256k-token vocabulary), <c>20b</c> (gpt-oss-20b's sizes: 24 layers
    /// of width 2880, 64 query and 8 KV heads of 64, 32 experts of 2880 with 4 used, o200k's 201,088 ids; with
    /// <c>--arch gpt-oss --type mxfp4</c> about 12 GB).</summary>
    public static IReadOnlyList<SyntheticShape> Shapes { get; } =
    [
        new("tiny", 64, 2, 4, 2, 192, 512, 256),
        new("100m", 768, 12, 12, 12, 2048, 32000, 2048),
        new("1b", 2048, 22, 32, 4, 5632, 32000, 2048),
        new("vocab256k", 512, 4, 8, 4, 2048, 256000, 2048) { HeadDim = 128 },
        new("20b", 2880, 24, 64, 8, 2880, 201088, 131072) { HeadDim = 64, Experts = 32, ExpertsUsed = 4, SlidingWindow = 128 },   // gpt-oss-20b's sizes
    ];

    /// <summary>The shape called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static SyntheticShape Shape(string name) => Shapes.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"unknown shape '{name}' (known: {string.Join(", ", Shapes.Select(s => s.Name))})", nameof(name));

    /// <summary>Writes a random model of <paramref name="shape"/> and architecture <paramref name="arch"/> with matrices
    /// of <paramref name="type"/> to <paramref name="path"/> (atomically; tensors are generated while they are written).</summary>
    /// <exception cref="ArgumentException">A type the quantizer cannot write, or a width not divisible into its blocks.</exception>
    /// <exception cref="ModelNotSupportedException">Unknown architecture.</exception>
    public static void Write(SyntheticShape shape, GgmlType type, string path, int seed = 1, string arch = "llama")
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!Quantizer.CanEncode(type))
            throw new ArgumentException($"type {type} cannot be written (supported: {string.Join(", ", Enum.GetValues<GgmlType>().Where(Quantizer.CanEncode))})", nameof(type));
        GgmlTypeInfo.TryGetBlock(type, out int block, out _);
        if (shape.Dim % block != 0 || shape.Hidden % block != 0)
            throw new ArgumentException($"shape {shape.Name}: widths {shape.Dim} and {shape.Hidden} are not multiples of {type}'s block of {block}", nameof(type));
        Build(shape, arch, seed, (_, _) => type).Write(path);
    }

    /// <summary>Writes a random model of <paramref name="shape"/> with each matrix typed as <paramref name="recipe"/>
    /// would type it in a real file (Q4_K_M: Q6_K output, attn_v and ffn_down in some layers, …).</summary>
    public static void Write(SyntheticShape shape, QuantRecipe recipe, string path, int seed = 1, string arch = "llama")
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(recipe);
        var names = new List<GgufTensorInfo>();
        Build(shape, arch, seed, (name, dims) => { names.Add(new GgufTensorInfo(name, GgmlType.F32, dims, 0, 0)); return GgmlType.F32; });
        Dictionary<string, GgmlType> types = ModelQuantizer.Plan(names, recipe, $"synth:{shape.Name}", shape.Heads / shape.KvHeads).ToDictionary(q => q.Name, q => q.To);
        Build(shape, arch, seed, (name, _) => types[name]).Write(path);
    }

    /// <summary>Writes a random mixture-of-experts model typed as llama.cpp's gpt-oss MXFP4 files are (<c>MXFP4_MOE</c>):
    /// expert tensors MXFP4, the router F32, every other matrix Q8_0.</summary>
    /// <exception cref="ArgumentException">An architecture without experts.</exception>
    public static void WriteMxfp4Moe(SyntheticShape shape, string path, int seed = 1, string arch = "gpt-oss")
    {
        ArgumentNullException.ThrowIfNull(shape);
        bool experts = false;
        GgufWriter w = Build(shape, arch, seed, (name, _) =>
        {
            if (name.Contains("_exps", StringComparison.Ordinal)) { experts = true; return GgmlType.MXFP4; }
            return name.Contains("ffn_gate_inp", StringComparison.Ordinal) ? GgmlType.F32 : GgmlType.Q8_0;
        });
        if (!experts) throw new ArgumentException($"MXFP4_MOE types expert tensors; {arch} has no mixture of experts", "--type");
        w.Write(path);
    }

    /// <summary>A writer holding the whole model (tensors are generated lazily, when written); matrices typed by
    /// <paramref name="typeOf"/>(name, ggml dims), vectors F32.</summary>
    internal static GgufWriter Build(SyntheticShape shape, string archName, int seed, Func<string, long[], GgmlType> typeOf)
    {
        Architecture arch = ArchitectureRegistry.Get(archName, "synth");
        if (!arch.Gqa) shape = shape with { KvHeads = shape.Heads };
        var w = new GgufWriter();
        WriteHeader(w, arch, shape);
        using var keysOnly = new MemoryStream();
        w.Write(keysOnly);
        ModelConfig c = ModelLoader.ReadConfig(GgufFile.Parse(keysOnly.ToArray(), $"synth:{archName}"), tokenEmbeddingRows: shape.Vocab).Config;

        int tensor = 0;
        foreach (PlannedTensor t in TensorPlan.For(c, arch.Layout))
        {
            int tensorSeed = HashCombine(seed, tensor++);
            var rng = new Random(tensorSeed);
            if (t.Kind == TensorKind.Matrix)
            {
                GgmlType type = typeOf(t.Name, t.Dims);
                long elements = t.Dims.Aggregate(1L, (a, d) => a * d);   // 3-D for experts: every expert's matrix
                float scale = MathF.Sqrt(3f / t.Dims[0]);
                w.AddTensor(t.Name, type, t.Dims, elements < ParallelElements
                    ? () => Quantizer.Quantize(type, Uniform(rng, elements, scale))
                    : () => RandomRowsInParallel(type, tensorSeed, (int)t.Dims[0], elements, scale));
                continue;
            }
            long n = t.Dims.Aggregate(1L, (a, d) => a * d);
            float[] v = t.Kind switch
            {
                TensorKind.NormGain => Uniform(rng, n, 0.2f).Select(x => 1 + x).ToArray(),
                TensorKind.Bias => Uniform(rng, n, 0.1f),
                _ => Uniform(rng, n, 0.5f),   // position embedding
            };
            w.AddTensor(t.Name, t.Dims, v);
        }
        return w;
    }

    private static void WriteHeader(GgufWriter w, Architecture arch, SyntheticShape shape)
    {
        var k = new KeyWriter(w, arch.Name);
        w.Add(GgufKeys.Architecture, GgufValue.Of(arch.Name));
        w.Add(GgufKeys.Name, GgufValue.Of($"sinklab-synth-{arch.Name}-{shape.Name}"));
        k.Add(GgufKeys.ContextLength, (uint)shape.Context).Add(GgufKeys.EmbeddingLength, (uint)shape.Dim)
            .Add(GgufKeys.FeedForwardLength, (uint)shape.Hidden).Add(GgufKeys.BlockCount, (uint)shape.Layers)
            .Add(GgufKeys.HeadCount, (uint)shape.Heads);
        if (arch.Gqa) k.Add(GgufKeys.HeadCountKv, (uint)shape.KvHeads);
        if (shape.HeadDim > 0) k.Add(GgufKeys.KeyLength, (uint)shape.HeadDim).Add(GgufKeys.ValueLength, (uint)shape.HeadDim);
        k.Add(arch.Norm == NormKind.RmsNorm ? GgufKeys.RmsEpsilon : GgufKeys.LayerNormEpsilon, 1e-5f);
        arch.WriteKeys(k, shape);
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
    }

    /// <summary>Matrices from this many elements on (20b-class shapes: a 32-expert tensor, a 200k vocabulary) are drawn
    /// and encoded in parallel, in chunks of rows that each have their own seed; smaller ones keep one generator per
    /// tensor, so every file written before (fixtures, the 100m and 1b shapes) is unchanged.</summary>
    private const long ParallelElements = 1L << 27;

    internal static byte[] RandomRowsInParallel(GgmlType type, int tensorSeed, int rowLength, long elements, float scale)
    {
        long rows = elements / rowLength;
        int rowBytes = checked((int)GgmlTypeInfo.ByteSize(type, rowLength)), rowsPerChunk = Math.Max(1, (1 << 22) / rowLength);
        var bytes = new byte[checked(rows * rowBytes)];
        int chunks = checked((int)((rows + rowsPerChunk - 1) / rowsPerChunk));
        Parallel.For(0, chunks, chunk =>
        {
            long first = (long)chunk * rowsPerChunk;
            int n = (int)Math.Min(rowsPerChunk, rows - first);
            float[] x = Uniform(new Random(HashCombine(tensorSeed, chunk)), (long)n * rowLength, scale);
            Quantizer.Quantize(type, x, bytes.AsSpan(checked((int)(first * rowBytes)), n * rowBytes));
        });
        return bytes;
    }

    internal static float[] Uniform(Random rng, long n, float scale)
    {
        var x = new float[n];
        for (long i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }

    /// <summary>A per-tensor seed that is the same in every process (no randomised hashing).</summary>
    internal static int HashCombine(int seed, int id) => (int)(((uint)seed * 2654435761u) ^ ((uint)id * 2246822519u) ^ 0x5bd1e995u) & 0x7FFFFFFF;

    /// <summary>Weights a token is multiplied with: every block matrix and the output matrix.</summary>
    public static long MatrixParametersPerToken(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int used = model.Config.Block.Moe?.Used ?? 0;
        return model.Weights.Layers.SelectMany(l => l.PerToken(used)).Append(model.Weights.Output).Sum(m => (long)m.Rows * m.Cols);
    }

    /// <summary>Of <see cref="WeightBytesPerToken"/>, the bytes of the expert_used_count routed experts in every layer
    /// (null for a dense model).</summary>
    public static long? ActiveExpertBytesPerToken(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Config.Block.Moe is not { } moe) return null;
        return model.Weights.Layers.Sum(l => l.PerToken(moe.Used).Sum(m => m.ByteSize) - l.PerToken(0).Sum(m => m.ByteSize));
    }

    /// <summary>Bytes of weights a decode step reads: every block matrix (of a mixture of experts, the router and
    /// expert_used_count experts) and the output matrix (the embedding lookup reads one row).</summary>
    public static long WeightBytesPerToken(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int used = model.Config.Block.Moe?.Used ?? 0;
        return model.Weights.Layers.SelectMany(l => l.PerToken(used)).Append(model.Weights.Output).Sum(m => m.ByteSize);
    }
}
