namespace SinkLab.Models.Architectures;

/// <summary><c>gptneox</c> (Pythia): LayerNorm with bias, fused Q|K|V with bias (the converter undoes HF's per-head
/// interleaving), NeoX RoPE over the first rope.dimension_count dims of each head, GELU MLP with biases, and the
/// parallel residual x + attn(ln₁(x)) + mlp(ln₂(x)) when <c>use_parallel_residual</c>.</summary>
internal sealed class GptNeoX : Architecture
{
    public override string Name => "gptneox";
    public override NormKind Norm => NormKind.LayerNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, QkvBias = true, OutputBias = true, MlpBias = true, NormBias = true };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Mlp = MlpKind.Gelu,
        Residual = keys.Bool(GgufKeys.ParallelResidual) ? ResidualKind.Parallel : ResidualKind.Sequential,
        QueryScale = DefaultScale(sizes),
    };

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.RopeDimensionCount, (uint)(shape.HeadSize / 4)).Add(GgufKeys.ParallelResidual, true);
}
