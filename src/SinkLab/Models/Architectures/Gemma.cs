namespace SinkLab.Models.Architectures;

/// <summary><c>gemma</c>: embedding × √n_embd, GeGLU, NeoX RoPE over key_length, output tied to the embedding (llama.cpp
/// never reads an output.weight for it). Norm weights are used as stored: the converter folds HF's 1 + w in.</summary>
internal sealed class Gemma : Architecture
{
    public override string Name => "gemma";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new() { Output = false };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Mlp = MlpKind.GeGlu,
        EmbeddingScale = MathF.Sqrt(sizes.Dim),
        QueryScale = DefaultScale(sizes),
    };
}
