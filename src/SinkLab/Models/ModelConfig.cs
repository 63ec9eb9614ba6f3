namespace SinkLab.Models;

/// <summary>How attention turns scores into weights.</summary>
public enum AttentionVariant
{
    /// <summary>softmax over the visible keys (the standard).</summary>
    Softmax,
    /// <summary>softmax with an extra logit fixed at 0 in every row ("softmax off by one", Miller 2023).</summary>
    Softmax1,
    /// <summary>softmax with a learned per-head logit in every row that takes mass and is dropped (gpt-oss
    /// <c>attn_sinks</c>).</summary>
    SinkLogit,
    /// <summary>element-wise sigmoid(score + b), no normalisation (Gu et al. 2025 §7).</summary>
    Sigmoid,
    /// <summary>softmax, then each head's output scaled by sigmoid(x · w_h) of the block input (gated attention).</summary>
    Gated,
    /// <summary>softpick (Zuhri et al. 2025): ReLU(e^s − 1) / Σ|e^s − 1| over the visible keys (plus 1e-8), computed with
    /// the row maximum m taken out: ReLU(e^(s−m) − e^(−m)) / (Σ|e^(s−m) − e^(−m)| + 1e-8). Weights need not sum to 1
    /// and a row can be all zero: a head can attend to nothing without a sink.</summary>
    Softpick,
}

/// <summary>The names of <see cref="AttentionVariant"/> in GGUF (<c>sinklab.attention.variant</c>) and in configs.</summary>
public static class AttentionVariantNames
{
    private static readonly (string Name, AttentionVariant Value)[] Table =
    [
        ("softmax", AttentionVariant.Softmax), ("softmax1", AttentionVariant.Softmax1), ("sink-logit", AttentionVariant.SinkLogit),
        ("sigmoid", AttentionVariant.Sigmoid), ("gated", AttentionVariant.Gated), ("softpick", AttentionVariant.Softpick),
    ];

    /// <summary>All names.</summary>
    public static IEnumerable<string> All => Table.Select(t => t.Name);

    /// <summary>Looks a name up.</summary>
    public static bool TryParse(string name, out AttentionVariant value)
    {
        foreach (var (n, v) in Table) if (n == name) { value = v; return true; }
        value = default;
        return false;
    }

    /// <summary>The name of a variant.</summary>
    public static string Name(AttentionVariant v) => Table.First(t => t.Value == v).Name;
}

/// <summary>
/// Hyper-parameters of a model, normalised once from the file: sizes, the block description every layer executes
/// (<see cref="Block"/>) and what changes per layer (<see cref="LayerSpecs"/>). Derived sizes are members.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Architecture name as in <c>general.architecture</c> (e.g. <c>llama</c>).</summary>
    public required string Architecture { get; init; }
    /// <summary>Vocabulary size (rows of the embedding matrix).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Context length the model was configured with.</summary>
    public required int ContextLength { get; init; }
    /// <summary>Width of the residual stream.</summary>
    public required int Dim { get; init; }
    /// <summary>Width of the MLP's hidden layer.</summary>
    public required int HiddenDim { get; init; }
    /// <summary>Number of transformer blocks.</summary>
    public required int Layers { get; init; }
    /// <summary>Query heads.</summary>
    public required int Heads { get; init; }
    /// <summary>Key/value heads (fewer than <see cref="Heads"/> for grouped-query attention).</summary>
    public required int KvHeads { get; init; }
    /// <summary>Dimension of one head.</summary>
    public required int HeadDim { get; init; }
    /// <summary>Epsilon of every norm (RMSNorm or LayerNorm, per <see cref="BlockDescription.Norm"/>).</summary>
    public required float NormEps { get; init; }
    /// <summary>RoPE base frequency θ of the global (full-attention) layers.</summary>
    public float RopeFreqBase { get; init; } = 10000f;
    /// <summary>Number of leading dimensions of each head that RoPE rotates.</summary>
    public required int RopeDim { get; init; }
    /// <summary>Pairing of rotated dimensions.</summary>
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Normal;
    /// <summary>Linear position scaling (1 / <c>rope.scaling.factor</c>; 1 when unscaled).</summary>
    public float RopeFreqScale { get; init; } = 1f;
    /// <summary>True when the output projection is the token embedding (no <c>output.weight</c>).</summary>
    public bool TiedOutput { get; init; }
    /// <summary>Attention variant (<c>sinklab.attention.variant</c>; softmax when absent).</summary>
    public AttentionVariant Attention { get; init; } = AttentionVariant.Softmax;
    /// <summary>Bias b of sigmoid attention (<c>sinklab.attention.sigmoid_bias</c>).</summary>
    public float SigmoidBias { get; init; }
    /// <summary>The block every layer executes.</summary>
    public required BlockDescription Block { get; init; }
    /// <summary>Per layer: sliding window and RoPE frequencies (<see cref="Layers"/> entries).</summary>
    public required IReadOnlyList<LayerSpec> LayerSpecs { get; init; }
    /// <summary>Rows of the learned position embedding (0 without one): the most positions the model can see.</summary>
    public int PositionRows { get; init; }

    /// <summary>Width of all query heads together.</summary>
    public int QDim => Heads * HeadDim;
    /// <summary>Width of all key (or value) heads together.</summary>
    public int KvDim => KvHeads * HeadDim;
    /// <summary>Query heads sharing one key/value head.</summary>
    public int GroupSize => Heads / KvHeads;
}
