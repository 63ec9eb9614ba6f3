namespace SinkLab.Models.Architectures;

/// <summary><c>mpt</c>: LayerNorm (bias tensors when present), fused Q|K|V clamped to ±clamp_kqv, ALiBi (slopes from
/// max_alibi_bias) and no position embedding, GELU MLP, output tied to the embedding unless output.weight exists.
/// With max_alibi_bias 0, a position_embd makes positions learned.</summary>
internal sealed class Mpt : Architecture
{
    public override string Name => "mpt";
    public override NormKind Norm => NormKind.LayerNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, Output = false };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
    {
        float maxBias = keys.Float(GgufKeys.MaxAlibiBias);
        return new()
        {
            Mlp = MlpKind.Gelu,
            Positions = maxBias > 0 ? PositionKind.Alibi : PositionKind.Learned,
            AlibiMaxBias = maxBias,
            ClampQkv = keys.Float(GgufKeys.ClampKqv, 0f),
            QueryScale = DefaultScale(sizes),
        };
    }

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape) => keys.Add(GgufKeys.MaxAlibiBias, 8f).Add(GgufKeys.ClampKqv, 2f);
}
