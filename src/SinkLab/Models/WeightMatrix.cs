using SinkLab.Gguf;

namespace SinkLab.Models;

/// <summary>
/// A weight matrix of <see cref="Rows"/> × <see cref="Cols"/> (row-major, each row <see cref="Cols"/> elements of
/// <see cref="Type"/>), viewed in place in the model file's memory.
/// </summary>
public sealed unsafe class WeightMatrix
{
    internal WeightMatrix(string name, GgmlType type, int rows, int cols, byte* data)
    {
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

    /// <summary>The encoded bytes of row <paramref name="r"/>.</summary>
    public ReadOnlySpan<byte> Row(int r) => new(Data + (long)r * RowBytes, RowBytes);

    /// <summary>Row <paramref name="r"/> decoded to floats.</summary>
    public void DequantizeRow(int r, Span<float> dst) => Kernels.Quantizer.Dequantize(Type, Row(r), dst[..Cols]);
}

/// <summary>Weights of one transformer block.</summary>
public sealed class LayerWeights
{
#pragma warning disable CS1591 // names follow GGUF's tensor names
    public required float[] AttnNorm { get; init; }
    public required WeightMatrix Wq { get; init; }
    public required WeightMatrix Wk { get; init; }
    public required WeightMatrix Wv { get; init; }
    public required WeightMatrix Wo { get; init; }
    public required float[] FfnNorm { get; init; }
    public required WeightMatrix FfnGate { get; init; }
    public required WeightMatrix FfnDown { get; init; }
    public required WeightMatrix FfnUp { get; init; }
    /// <summary>Biases of the Q, K and V projections (qwen2), or null.</summary>
    public float[]? BiasQ { get; init; }
    public float[]? BiasK { get; init; }
    public float[]? BiasV { get; init; }
    /// <summary>Per-head sink logits (sink-logit variant), or null.</summary>
    public float[]? AttnSinks { get; init; }
    /// <summary>Gate projection, heads × dim (gated variant), or null.</summary>
    public WeightMatrix? AttnGate { get; init; }
#pragma warning restore CS1591
}

/// <summary>All weights of a model.</summary>
public sealed class ModelWeights
{
    /// <summary>Token embedding, VocabSize × Dim.</summary>
    public required WeightMatrix TokenEmbedding { get; init; }
    /// <summary>Blocks, in order.</summary>
    public required LayerWeights[] Layers { get; init; }
    /// <summary>Final RMSNorm gain.</summary>
    public required float[] OutputNorm { get; init; }
    /// <summary>Output projection, VocabSize × Dim (the embedding itself when tied).</summary>
    public required WeightMatrix Output { get; init; }
    /// <summary>Per-frequency divisors for RoPE (Llama 3.1 scaling), or null.</summary>
    public float[]? RopeFreqFactors { get; init; }
}
