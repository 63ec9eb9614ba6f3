using SinkLab.Gguf;

namespace SinkLab.Models.Architectures;

/// <summary><c>stablelm</c> (StableLM 2, StableLM-3B-4E1T): LayerNorm with bias, Q/K/V biases where the file has them,
/// NeoX RoPE over rope.dimension_count, SwiGLU. Sequential when the block has an ffn_norm; without one, llama.cpp
/// runs the parallel residual with the attention norm feeding the MLP too. The per-head Q/K LayerNorms of
/// StableLM 2 12B are refused.</summary>
internal sealed class StableLm : Architecture
{
    public override string Name => "stablelm";
    public override NormKind Norm => NormKind.LayerNorm;
    public override TensorLayout Layout { get; } = new() { QkvBias = true, NormBias = true };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
    {
        if (keys.HasTensor(GgufKeys.Block(0, GgufKeys.AttnQNorm)))
            throw new ModelNotSupportedException("stablelm qk-layernorm", $"{keys.File.FilePath}: StableLM's per-head Q/K LayerNorm ({GgufKeys.Block(0, GgufKeys.AttnQNorm)}) is not supported");
        return new()
        {
            Residual = keys.Planning || keys.HasTensor(GgufKeys.Block(0, GgufKeys.FfnNorm)) ? ResidualKind.Sequential : ResidualKind.ParallelSharedNorm,
            QueryScale = DefaultScale(sizes),
        };
    }

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape) => keys.Add(GgufKeys.RopeDimensionCount, (uint)(shape.HeadSize / 4));
}
