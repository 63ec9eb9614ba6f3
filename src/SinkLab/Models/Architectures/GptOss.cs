using SinkLab.Gguf;
namespace SinkLab.Models.Architectures;

/// <summary><c>gpt-oss</c> (OpenAI 2025) as llama.cpp's converter writes it: RMSNorm pre-norm blocks whose attention
/// has Q/K/V/O biases and a learned sink logit per head (<c>attn_sinks</c>, an extra softmax column with no value),
/// a sliding window on the even layers and full attention on the odd ones, NeoX RoPE with YaRN on every layer; after
/// the attention's residual add, <c>post_attention_norm</c> feeds a mixture of experts: a router with bias, the top
/// expert_used_count experts weighted by a softmax over their logits alone, each a clamped SwiGLU (α 1.702, limit 7)
/// with biases.</summary>
internal sealed class GptOss : Architecture
{
    /// <summary>llama.cpp's <c>LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX_WEIGHT</c>, the only gating gpt-oss uses.</summary>
    private const int SoftmaxWeight = 3;

    public override string Name => "gpt-oss";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new()
    {
        QkvBias = true, OutputBias = true, FfnNorm = GgufKeys.PostAttentionNorm, ExpertBias = true, AttnSinks = true,
    };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
    {
        int experts = keys.Int(GgufKeys.ExpertCount, 1, 1 << 12);
        int used = keys.Int(GgufKeys.ExpertUsedCount, 1, experts);
        int hidden = keys.Int(GgufKeys.ExpertFeedForwardLength, keys.Int(GgufKeys.FeedForwardLength, 1, 1 << 20), 1, 1 << 20);
        if (keys.Has(GgufKeys.ExpertGatingFunc) && keys.Int(GgufKeys.ExpertGatingFunc) != SoftmaxWeight)
            throw new GgufFormatException(keys.File.FilePath, -1, $"metadata key '{keys.Key(GgufKeys.ExpertGatingFunc)}'",
                $"{SoftmaxWeight} (softmax over the chosen experts, gpt-oss's gating)", keys.Int(GgufKeys.ExpertGatingFunc).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new()
        {
            Mlp = MlpKind.SwiGluOai,
            Moe = new MoeSpec(experts, used, hidden, ExpertGating.SoftmaxOfSelected),
            QueryScale = DefaultScale(sizes),
        };
    }

    /// <summary>gpt-oss's own settings (base 150000, YaRN ×32 from 4096, as the released models), experts from the shape.</summary>
    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.RopeFreqBase, 150000f).Add(GgufKeys.ExpertCount, (uint)shape.Experts).Add(GgufKeys.ExpertUsedCount, (uint)shape.ExpertsUsed)
            .Add(GgufKeys.ExpertFeedForwardLength, (uint)shape.Hidden).Add(GgufKeys.SlidingWindow, (uint)shape.Window)
            .Add(GgufKeys.RopeScalingType, "yarn").Add(GgufKeys.RopeScalingFactor, 32f).Add(GgufKeys.RopeScalingOriginalContext, 4096u);

    internal override LayerSpec[] LayerSpecs(ArchKeys keys, ModelSizes sizes, RopeConfig global)
        => Windowed(sizes.Layers, keys.Int(GgufKeys.SlidingWindow, 128, 0, int.MaxValue), l => l % 2 == 0, global);
}
