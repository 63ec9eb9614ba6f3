using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>olmo2</c>: no pre-norms — x + post_attention_norm(attn(x)), then h + post_ffw_norm(mlp(h)) — and a QK
/// RMSNorm over the whole projected Q and K vectors (not per head) before NeoX RoPE; SwiGLU.</summary>
internal sealed class Olmo2 : Architecture
{
    public override string Name => "olmo2";
    public override NormKind Norm => NormKind.RmsNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new();
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
        => new() { Placement = NormPlacement.Post, QkNorm = QkNormKind.Whole, QueryScale = DefaultScale(sizes) };

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Olmo2ForCausalLM"],
        Keys = (c, k) => Hf.CommonKeys(c, k, NormKind.RmsNorm),
        Map = n => Hf.Map(n, "model.layers.", Hf.With(Hf.LlamaBlock, ("post_attention_layernorm", "post_attention_norm"),
            ("post_feedforward_layernorm", "post_ffw_norm")), Hf.LlamaGlobal),
    };
}
