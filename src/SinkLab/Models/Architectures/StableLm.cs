using SinkLab.Formats.HuggingFace;
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

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["StableLmForCausalLM", "StableLMEpochForCausalLM"],
        Keys = (c, k) =>
        {
            if (c.Bool("qk_layernorm", false))
                throw new ModelNotSupportedException("stablelm qk-layernorm", $"{c.Path}: StableLM's per-head Q/K LayerNorm (qk_layernorm) is not supported");
            int dim = c.Int(["hidden_size"]), heads = c.Int(["num_attention_heads"]);
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["max_position_embeddings"])).Add(GgufKeys.EmbeddingLength, (uint)dim)
                .Add(GgufKeys.BlockCount, (uint)c.Int(["num_hidden_layers"])).Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size"]))
                .Add(GgufKeys.RopeDimensionCount, (uint)(int)(c.Number("partial_rotary_factor", "rope_pct") * (dim / heads)))
                .Add(GgufKeys.HeadCount, (uint)heads).Add(GgufKeys.HeadCountKv, (uint)c.Int(["num_key_value_heads"]))
                .Add(GgufKeys.ParallelResidual, c.Bool("use_parallel_residual", true)).Add(GgufKeys.LayerNormEpsilon, (float)c.Number("layer_norm_eps", "norm_eps"));
        },
        Map = n => Hf.Map(n, "model.layers.", Hf.LlamaBlock, Hf.LlamaGlobal),
    };
}
