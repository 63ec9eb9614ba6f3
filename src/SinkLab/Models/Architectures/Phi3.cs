using SinkLab.Formats.HuggingFace;
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

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Phi3ForCausalLM"],
        Vocab = HfVocabKind.Phi3,
        Keys = (c, k) =>
        {
            if (c.Object("rope_scaling") is { } rs && (c.String(rs, "long_factor") != null || rs.TryGetProperty("long_factor", out _)))
                throw new ModelNotSupportedException("phi3 LongRoPE", $"{c.Path}: LongRoPE scaling (rope_scaling.long_factor) is not supported");
            int dim = c.Int(["hidden_size", "n_embd"]), heads = c.Int(["num_attention_heads", "n_head"]);
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["n_positions", "max_position_embeddings"]));
            if (c.Has("original_max_position_embeddings")) k.Add(GgufKeys.RopeScalingOriginalContext, (uint)c.Int(["original_max_position_embeddings"]));
            k.Add(GgufKeys.EmbeddingLength, (uint)dim).Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size"]))
                .Add(GgufKeys.BlockCount, (uint)c.Int(["num_hidden_layers"])).Add(GgufKeys.HeadCount, (uint)heads)
                .Add(GgufKeys.HeadCountKv, (uint)c.Int(["num_key_value_heads", "n_head_kv"])).Add(GgufKeys.RmsEpsilon, (float)c.Number("rms_norm_eps"))
                .Add(GgufKeys.RopeDimensionCount, (uint)((int)(c.Number(["partial_rotary_factor"], 1.0) * dim) / heads))
                .Add(GgufKeys.RopeFreqBase, (float)c.Number(["rope_theta"], 10000))
                .Add(GgufKeys.SlidingWindow, (uint)c.IntOr(["sliding_window"], 0));
        },
        Map = n => Hf.Map(n, "model.layers.", Hf.With(Hf.LlamaBlock, ("self_attn.qkv_proj", "attn_qkv"), ("mlp.gate_up_proj", "ffn_up")), Hf.LlamaGlobal),
    };
}
