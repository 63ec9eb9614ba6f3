using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>starcoder2</c>: LayerNorm with bias, biases on Q, K, V and O, NeoX RoPE over the whole head, GELU MLP
/// with biases.</summary>
internal sealed class Starcoder2 : Architecture
{
    public override string Name => "starcoder2";
    public override NormKind Norm => NormKind.LayerNorm;
    public override TensorLayout Layout { get; } = new() { QkvBias = true, OutputBias = true, MlpBias = true, NormBias = true };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
        => new() { Mlp = MlpKind.Gelu, QueryScale = DefaultScale(sizes) };

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Starcoder2ForCausalLM"],
        Keys = (c, k) => Hf.CommonKeys(c, k, NormKind.LayerNorm),
        Map = n => Hf.Map(n, "model.layers.", Hf.With(Hf.LlamaBlock, ("mlp.c_fc", "ffn_up"), ("mlp.c_proj", "ffn_down")), Hf.LlamaGlobal),
    };
}
