using SinkLab.Gguf;

namespace SinkLab.Models;

/// <summary>
/// A weight matrix of <see cref="Rows"/> × <see cref="Cols"/> (row-major, each row <see cref="Cols"/> elements of
/// <see cref="Type"/>), viewed in place in the model file's memory.
/// </summary>
public sealed unsafe class WeightMatrix
{
    private readonly bool _fileMapped;

    internal WeightMatrix(string name, GgmlType type, int rows, int cols, byte* data, bool fileMapped = false)
    {
        _fileMapped = fileMapped;
        Name = name;
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = (int)GgmlTypeInfo.ByteSize(type, cols);
        Data = data;
    }

    /// <summary>Tensor name in the file.</summary>
    public string Name { get; }
    /// <summary>Element type.</summary>
    public GgmlType Type { get; }
    /// <summary>Output size.</summary>
    public int Rows { get; }
    /// <summary>Input size (row length).</summary>
    public int Cols { get; }
    /// <summary>Bytes per row.</summary>
    public int RowBytes { get; }
    /// <summary>Bytes of the whole matrix.</summary>
    public long ByteSize => (long)RowBytes * Rows;
    internal byte* Data { get; }

    private volatile byte[]? _packed;

    /// <summary>Rows in groups of <see cref="Kernels.Q4KGroups.Rows"/> repacked for the product kernels
    /// (<see cref="Kernels.Q4KGroups"/>, <see cref="Kernels.Q6KGroups"/>, <see cref="Kernels.Q8Groups"/>: Q4_K, Q6_K,
    /// and Q8_0 where AVX-VNNI runs), made on first use and shared
    /// by every session of the model; null where this matrix is not repacked (another type, fewer than eight rows, no
    /// AVX2, or repacking switched off). Rows past the last whole group stay in <see cref="Data"/> only. Where the
    /// matrix is a mapping of the model file, the packed rows' pages are given back to the OS once copied (on Linux),
    /// so the process does not hold the weights twice; <see cref="Row"/> reads them from the file again if asked.</summary>
    internal byte* Packed
    {
        get
        {
            if (Rows < Kernels.Q4KGroups.Rows || !Kernels.Q4KGroups.Enabled || !Kernels.Q4KGroups.Layout(Type).Exists) return null;
            byte[] packed = _packed ?? PackOnce();
            return (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(packed));
        }
    }

    private byte[] PackOnce()
    {
        lock (this)
        {
            if (_packed != null) return _packed;
            int groups = Rows / Kernels.Q4KGroups.Rows;
            Kernels.GroupLayout layout = Kernels.Q4KGroups.Layout(Type);
            int blocks = Cols / layout.Elements;
            byte[] a = GC.AllocateUninitializedArray<byte>(checked(groups * blocks * layout.BlockBytes), pinned: true);
            fixed (byte* dst = a) layout.Pack(Data, RowBytes, groups, blocks, dst);
            if (_fileMapped) PageRelease.Release(Data, (long)groups * Kernels.Q4KGroups.Rows * RowBytes);
            return _packed = a;
        }
    }

    /// <summary>The encoded bytes of row <paramref name="r"/>.</summary>
    public ReadOnlySpan<byte> Row(int r) => new(Data + (long)r * RowBytes, RowBytes);

    /// <summary>Row <paramref name="r"/> decoded to floats.</summary>
    public void DequantizeRow(int r, Span<float> dst) => Kernels.Quantizer.Dequantize(Type, Row(r), dst[..Cols]);

    /// <summary>Rows [<paramref name="first"/>, first + <paramref name="rows"/>) as a matrix of their own, in place (how
    /// fused tensors such as <c>attn_qkv</c> are split at load: rows are whole blocks, so a row range is a view).</summary>
    internal WeightMatrix Slice(int first, int rows, string part)
    {
        if (first < 0 || rows < 1 || first + rows > Rows) throw new ArgumentOutOfRangeException(nameof(rows), $"{Name}: rows {first}..{first + rows} of {Rows}");
        return new WeightMatrix($"{Name}[{part}]", Type, rows, Cols, Data + (long)first * RowBytes, _fileMapped);
    }
}

/// <summary>A norm's gain and, for LayerNorms that have one, its bias.</summary>
/// <param name="Weight">Gain w (width entries).</param>
/// <param name="Bias">Bias b, or null.</param>
public sealed record NormWeights(float[] Weight, float[]? Bias = null);

/// <summary>Weights of one transformer block. Optional members are null where the architecture has no such tensor;
/// fused tensors of the file (attn_qkv, phi3's gate|up) appear here as views of their row ranges.</summary>
public sealed class LayerWeights
{
#pragma warning disable CS1591 // names follow GGUF's tensor names
    /// <summary>Norm before attention (attn_norm), or null for post-norm blocks.</summary>
    public NormWeights? AttnNorm { get; init; }
    /// <summary>Norm of the attention output before the residual add (post_attention_norm), or null.</summary>
    public NormWeights? AttnPostNorm { get; init; }
    /// <summary>Norm before the MLP (ffn_norm), or null (post-norm blocks; parallel blocks sharing attn_norm).</summary>
    public NormWeights? FfnNorm { get; init; }
    /// <summary>Norm of the MLP output before the residual add (post_ffw_norm), or null.</summary>
    public NormWeights? FfnPostNorm { get; init; }
    public required WeightMatrix Wq { get; init; }
    public required WeightMatrix Wk { get; init; }
    public required WeightMatrix Wv { get; init; }
    public required WeightMatrix Wo { get; init; }
    /// <summary>Projection biases, or null.</summary>
    public float[]? BiasQ { get; init; }
    public float[]? BiasK { get; init; }
    public float[]? BiasV { get; init; }
    public float[]? BiasO { get; init; }
    /// <summary>Q/K norm gains (head size entries per head, or the full width), or null.</summary>
    public NormWeights? QNorm { get; init; }
    public NormWeights? KNorm { get; init; }
    /// <summary>Gate projection of gated MLPs, or null.</summary>
    public WeightMatrix? FfnGate { get; init; }
    /// <summary>Up and down projections of a dense MLP (null in a mixture-of-experts block, see <see cref="Experts"/>).</summary>
    public WeightMatrix? FfnUp { get; init; }
    public WeightMatrix? FfnDown { get; init; }
    /// <summary>Router and experts of a mixture-of-experts block, or null (dense MLP).</summary>
    public ExpertWeights? Experts { get; init; }
    public float[]? BiasGate { get; init; }
    public float[]? BiasUp { get; init; }
    public float[]? BiasDown { get; init; }
    /// <summary>Per-head sink logits (sink-logit variant), or null.</summary>
    public float[]? AttnSinks { get; init; }
    /// <summary>Gate projection, heads × dim (gated variant), or null.</summary>
    public WeightMatrix? AttnGate { get; init; }
#pragma warning restore CS1591

    /// <summary>Every matrix of this block, every expert's included.</summary>
    public IEnumerable<WeightMatrix> Matrices() => Experts is { } e ? PerToken(0).Concat(e.Gate).Concat(e.Up).Concat(e.Down) : PerToken(0);

    /// <summary>The matrices one token is multiplied with: the dense ones and the router, plus the first
    /// <paramref name="experts"/> experts (a token reads expert_used_count of them; all experts have the same shapes).</summary>
    public IEnumerable<WeightMatrix> PerToken(int experts)
    {
        yield return Wq; yield return Wk; yield return Wv; yield return Wo;
        if (FfnGate != null) yield return FfnGate;
        if (FfnUp != null) yield return FfnUp;
        if (FfnDown != null) yield return FfnDown;
        if (Experts is { } e)
        {
            yield return e.Router;
            foreach (WeightMatrix s in e.Shared()) yield return s;
            for (int i = 0; i < Math.Min(experts, e.Gate.Length); i++) { yield return e.Gate[i]; yield return e.Up[i]; yield return e.Down[i]; }
        }
    }
}

/// <summary>The router and experts of a mixture-of-experts block. The file's 3-D expert tensors are viewed in place:
/// expert e's matrix is rows [e·rows, (e+1)·rows) of the tensor read as a matrix of experts·rows rows, so a token reads
/// only the bytes of the experts it chose.</summary>
public sealed class ExpertWeights
{
    /// <summary>Router, experts × n_embd (<c>ffn_gate_inp</c>).</summary>
    public required WeightMatrix Router { get; init; }
    /// <summary>Router bias (experts entries), or null.</summary>
    public float[]? RouterBias { get; init; }
    /// <summary>Per expert: gate and up (hidden × n_embd) and down (n_embd × hidden) projections.</summary>
    public required WeightMatrix[] Gate { get; init; }
    /// <inheritdoc cref="Gate"/>
    public required WeightMatrix[] Up { get; init; }
    /// <inheritdoc cref="Gate"/>
    public required WeightMatrix[] Down { get; init; }
    /// <summary>Per expert biases of the three projections, or null.</summary>
    public float[][]? BiasGate { get; init; }
    /// <inheritdoc cref="BiasGate"/>
    public float[][]? BiasUp { get; init; }
    /// <inheritdoc cref="BiasGate"/>
    public float[][]? BiasDown { get; init; }
    /// <summary>Shared experts, which every token goes through (<c>ffn_gate_shexp</c>, <c>ffn_up_shexp</c>,
    /// <c>ffn_down_shexp</c>: an MLP of the block's kind), or null.</summary>
    public WeightMatrix? SharedGate { get; init; }
    /// <inheritdoc cref="SharedGate"/>
    public WeightMatrix? SharedUp { get; init; }
    /// <inheritdoc cref="SharedGate"/>
    public WeightMatrix? SharedDown { get; init; }
    /// <summary>The shared experts' gate: their output is scaled by σ(w·x) (<c>ffn_gate_inp_shexp</c>, n_embd), or null.</summary>
    public float[]? SharedGateInput { get; init; }

    /// <summary>The shared experts' matrices (none without shared experts).</summary>
    public IEnumerable<WeightMatrix> Shared() => new[] { SharedGate, SharedUp, SharedDown }.OfType<WeightMatrix>();
}

/// <summary>All weights of a model.</summary>
public sealed class ModelWeights
{
    /// <summary>Token embedding, VocabSize × Dim.</summary>
    public required WeightMatrix TokenEmbedding { get; init; }
    /// <summary>Learned absolute position embedding, positions × Dim, or null.</summary>
    public WeightMatrix? PositionEmbedding { get; init; }
    /// <summary>Blocks, in order.</summary>
    public required LayerWeights[] Layers { get; init; }
    /// <summary>Final norm.</summary>
    public required NormWeights OutputNorm { get; init; }
    /// <summary>Output projection, VocabSize × Dim (the embedding itself when tied).</summary>
    public required WeightMatrix Output { get; init; }
    /// <summary>Per-frequency divisors for RoPE (Llama 3.1 scaling), or null.</summary>
    public float[]? RopeFreqFactors { get; init; }
}
