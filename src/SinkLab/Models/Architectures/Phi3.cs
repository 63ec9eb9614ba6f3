using SinkLab.Gguf;

namespace SinkLab.Models.Architectures;

/// <summary><c>phi3</c> (Phi-3, Phi-4): fused Q|K|V and gate|up tensors (split at load), NeoX RoPE over
/// rope.dimension_count, and a sliding window on every layer when <c>attention.sliding_window</c> &gt; 0 (0 = none, as
/// Phi-4 writes). That is what llama.cpp computed until 2025; newer llama.cpp ignores Phi-3's window (its PR 13676) —
/// write the key as 0 to reproduce it. LongRoPE files (rope_factors_long) are refused.</summary>
internal sealed class Phi3 : Architecture
{
    public override string Name => "phi3";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, FusedGateUp = true };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
    {
        if (keys.HasTensor(GgufKeys.RopeFactorsLong))
            throw new ModelNotSupportedException("phi3 LongRoPE", $"{keys.File.FilePath}: LongRoPE scaling ({GgufKeys.RopeFactorsLong}) is not supported");
        return new() { QueryScale = DefaultScale(sizes) };
    }

    internal override LayerSpec[] LayerSpecs(ArchKeys keys, ModelSizes sizes, RopeConfig global)
        => Windowed(sizes.Layers, keys.Int(GgufKeys.SlidingWindow, 0, int.MaxValue), _ => true, global);

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape) => keys.Add(GgufKeys.SlidingWindow, (uint)shape.Window);
}
