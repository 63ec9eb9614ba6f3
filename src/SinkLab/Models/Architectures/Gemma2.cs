namespace SinkLab.Models.Architectures;

/// <summary><c>gemma2</c>: Gemma with sandwich norms (post-attention and post-FFN RMSNorms before the residual add),
/// attention and final logit soft-capping (llama.cpp's defaults 50 and 30 when the keys are absent), and a sliding
/// window on the even layers (default 4096). The query scale follows llama.cpp, which picks it by model size: the
/// 27B (46 layers) uses 1/√(n_embd / n_head), every other size 1/√key_length.</summary>
internal sealed class Gemma2 : Architecture
{
    public override string Name => "gemma2";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new() { Output = false };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Placement = NormPlacement.Sandwich,
        Mlp = MlpKind.GeGlu,
        EmbeddingScale = MathF.Sqrt(sizes.Dim),
        AttnSoftCap = keys.Float(GgufKeys.AttnLogitSoftcap, 50f),
        FinalSoftCap = keys.Float(GgufKeys.FinalLogitSoftcap, 30f),
        QueryScale = sizes.Layers == 46 ? 1f / MathF.Sqrt(sizes.Dim / sizes.Heads) : DefaultScale(sizes),
    };

    internal override LayerSpec[] LayerSpecs(ArchKeys keys, ModelSizes sizes, RopeConfig global)
        => Windowed(sizes.Layers, keys.Int(GgufKeys.SlidingWindow, 4096, 0, int.MaxValue), l => l % 2 == 0, global);

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.AttnLogitSoftcap, 50f).Add(GgufKeys.FinalLogitSoftcap, 30f).Add(GgufKeys.SlidingWindow, (uint)shape.Window);
}
