using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>qwen3</c>: the Llama block with NeoX RoPE and a per-head RMSNorm of Q and K before RoPE; the head size
/// (key_length) may differ from n_embd / n_head.</summary>
internal sealed class Qwen3 : Architecture
{
    public override string Name => "qwen3";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new();
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
        => new() { QkNorm = QkNormKind.PerHead, QueryScale = DefaultScale(sizes) };

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Qwen3ForCausalLM"],
        Vocab = HfVocabKind.Llama,
        Keys = (c, k) => Hf.CommonKeys(c, k, NormKind.RmsNorm),
        Map = n => Hf.Map(n, "model.layers.", Hf.LlamaBlock, Hf.LlamaGlobal),
    };
}
