using SinkLab.Formats.HuggingFace;
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

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"],
        Vocab = HfVocabKind.SentencePieceNoPrefix,
        Keys = (c, k) =>
        {
            k.Add(GgufKeys.BlockCount, (uint)c.Int(["num_hidden_layers"])).Add(GgufKeys.ContextLength, (uint)c.IntOr(["max_position_embeddings"], 131072))
                .Add(GgufKeys.EmbeddingLength, (uint)c.Int(["hidden_size"])).Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size"]))
                .Add(GgufKeys.HeadCount, (uint)c.IntOr(["num_attention_heads"], 8)).Add(GgufKeys.HeadCountKv, (uint)c.IntOr(["num_key_value_heads"], 4))
                .Add(GgufKeys.RmsEpsilon, (float)c.Number(["rms_norm_eps"], 1e-6))
                .Add(GgufKeys.KeyLength, (uint)c.IntOr(["head_dim"], 256)).Add(GgufKeys.ValueLength, (uint)c.IntOr(["head_dim"], 256))
                .Add(GgufKeys.RopeFreqBase, (float)c.Number(["rope_theta"], 1_000_000));
            if (c.Has("rope_local_base_freq")) k.Add(GgufKeys.RopeFreqBaseSwa, (float)c.Number("rope_local_base_freq"));
            Hf.RopeScaling(c, k);
            if (c.Has("final_logit_softcapping")) k.Add(GgufKeys.FinalLogitSoftcap, (float)c.Number("final_logit_softcapping"));
            if (c.IntOr(["sliding_window_pattern"], 6) != 1 && c.Has("sliding_window")) k.Add(GgufKeys.SlidingWindow, (uint)c.Int(["sliding_window"]));
        },
        Map = n => n.StartsWith("vision_tower.", StringComparison.Ordinal) || n.StartsWith("multi_modal_projector.", StringComparison.Ordinal) ? null
            : Hf.Map(n.StartsWith("language_model.", StringComparison.Ordinal) ? n["language_model.".Length..] : n, "model.layers.", Gemma2.SandwichBlock, Hf.LlamaGlobal),
        Transform = (t, _) => t.HfName.EndsWith("norm.weight", StringComparison.Ordinal) ? Hf.PlusOne(t) : t,
    };
}
