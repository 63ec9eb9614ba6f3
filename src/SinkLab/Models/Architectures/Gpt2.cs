namespace SinkLab.Models.Architectures;

/// <summary><c>gpt2</c>: learned absolute positions (position_embd, one row per position), LayerNorm with bias, fused
/// Q|K|V with bias, GELU MLP with biases, no RoPE.</summary>
internal sealed class Gpt2 : Architecture
{
    public override string Name => "gpt2";
    public override NormKind Norm => NormKind.LayerNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, QkvBias = true, OutputBias = true, MlpBias = true, NormBias = true };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Mlp = MlpKind.Gelu, Positions = PositionKind.Learned, QueryScale = DefaultScale(sizes),
    };
}
