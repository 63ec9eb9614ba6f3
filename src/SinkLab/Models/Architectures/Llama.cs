namespace SinkLab.Models.Architectures;

/// <summary><c>llama</c>: RMSNorm, SwiGLU, RoPE on adjacent pairs (the converter permutes HF's Q/K rows for it), GQA.
/// Also what converted Mistral, SmolLM and TinyLlama files declare. llama.cpp reads no sliding window for it.</summary>
internal sealed class Llama : Architecture
{
    public override string Name => "llama";
    public override NormKind Norm => NormKind.RmsNorm;
    public override RopeStyle RopeStyle => RopeStyle.Normal;
    public override TensorLayout Layout { get; } = new();
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new() { QueryScale = DefaultScale(sizes) };

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.RopeDimensionCount, (uint)shape.HeadSize).Add(GgufKeys.RopeFreqBase, 10000f);
}
