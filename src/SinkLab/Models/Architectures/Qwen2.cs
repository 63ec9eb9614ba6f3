using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>qwen2</c> (Qwen 1.5 / 2 / 2.5): the Llama block with NeoX RoPE and Q/K/V biases.</summary>
internal sealed class Qwen2 : Architecture
{
    public override string Name => "qwen2";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new() { QkvBias = true };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new() { QueryScale = DefaultScale(sizes) };

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Qwen2ForCausalLM"],
        Vocab = HfVocabKind.Llama,
        Keys = (c, k) => Hf.CommonKeys(c, k, NormKind.RmsNorm),
        Map = n => Hf.Map(n, "model.layers.", Hf.LlamaBlock, Hf.LlamaGlobal),
    };
}
