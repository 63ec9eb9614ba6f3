namespace SinkLab.Models.Architectures;

/// <summary><c>gemma3</c> (text): Gemma 2's sandwich block with a per-head QK RMSNorm instead of soft-capping. When
/// <c>attention.sliding_window</c> is set, five of every six layers (il % 6 &lt; 5) are local: windowed, on
/// <c>rope.freq_base_swa</c> (10000 when absent) without RoPE scaling; the others are global, on
/// <c>rope.freq_base</c> with the file's linear scaling. Final soft-capping only when its key is present; query scale
/// 1/√key_length (1/√(n_embd / n_head) for the 27B's 62 layers).</summary>
internal sealed class Gemma3 : Architecture
{
    public override string Name => "gemma3";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new() { Output = false };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Placement = NormPlacement.Sandwich,
        Mlp = MlpKind.GeGlu,
        QkNorm = QkNormKind.PerHead,
        EmbeddingScale = MathF.Sqrt(sizes.Dim),
        FinalSoftCap = keys.Float(GgufKeys.FinalLogitSoftcap, 0f),
        QueryScale = sizes.Layers == 62 ? 1f / MathF.Sqrt(sizes.Dim / sizes.Heads) : DefaultScale(sizes),
    };

    internal override LayerSpec[] LayerSpecs(ArchKeys keys, ModelSizes sizes, RopeConfig global)
        => Windowed(sizes.Layers, keys.Int(GgufKeys.SlidingWindow, 0, 0, int.MaxValue), l => l % 6 < 5, global,
            new RopeConfig(keys.Float(GgufKeys.RopeFreqBaseSwa, 10000f)));

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.RopeFreqBase, 1000000f).Add(GgufKeys.RopeFreqBaseSwa, 10000f).Add(GgufKeys.SlidingWindow, (uint)shape.Window)
            .Add(GgufKeys.RopeScalingType, "linear").Add(GgufKeys.RopeScalingFactor, 8f);
}
