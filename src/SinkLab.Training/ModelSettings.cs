using SinkLab.Models;

namespace SinkLab.Training;

/// <summary>Shape and attention variant of a model to train.</summary>
public sealed record ModelSettings
{
    /// <summary>Vocabulary size (set from the data).</summary>
    public int Vocab { get; init; }
    /// <summary>Residual width.</summary>
    public int Dim { get; init; } = 64;
    /// <summary>Blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Query heads.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Key/value heads (divides <see cref="Heads"/>).</summary>
    public int KvHeads { get; init; } = 4;
    /// <summary>SwiGLU width.</summary>
    public int Hidden { get; init; } = 172;
    /// <summary>Training context (tokens per window).</summary>
    public int Context { get; init; } = 64;
    /// <summary>RoPE base.</summary>
    public float RopeBase { get; init; } = 10000f;
    /// <summary>RMSNorm epsilon.</summary>
    public float RmsEps { get; init; } = 1e-5f;
    /// <summary>Attention variant.</summary>
    public AttentionVariant Attention { get; init; } = AttentionVariant.Softmax;
    /// <summary>Bias b of sigmoid attention (Gu et al. use −ln T).</summary>
    public float SigmoidBias { get; init; } = -4f;
    /// <summary>Softmax attention through libtorch's fused scaled-dot-product kernel instead of explicit scores, mask and
    /// softmax (same function, 5.5× faster per step at T = 512 here, docs/benchmarks.md; equal to float rounding, not bit for bit).</summary>
    public bool FusedAttention { get; init; }

    /// <summary>Head dimension.</summary>
    public int HeadDim => Dim / Heads;

    /// <summary>Checks the shape.</summary>
    /// <exception cref="ArgumentException">Names the setting that is wrong.</exception>
    public void Validate()
    {
        if (Vocab < 2) throw new ArgumentException($"model.vocab must be ≥ 2 (got {Vocab})");
        if (Dim < 2 || Layers < 1 || Heads < 1 || KvHeads < 1 || Hidden < 1 || Context < 2)
            throw new ArgumentException("model.dim, layers, heads, kv_heads, hidden and context must be positive");
        if (Dim % Heads != 0) throw new ArgumentException($"model.heads ({Heads}) must divide model.dim ({Dim})");
        if (Heads % KvHeads != 0) throw new ArgumentException($"model.kv_heads ({KvHeads}) must divide model.heads ({Heads})");
        if (HeadDim % 2 != 0) throw new ArgumentException($"the head dimension dim/heads = {HeadDim} must be even (RoPE)");
    }
}
