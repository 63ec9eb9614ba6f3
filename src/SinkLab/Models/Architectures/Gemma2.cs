using SinkLab.Formats.HuggingFace;
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

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["Gemma2ForCausalLM"],
        Vocab = HfVocabKind.SentencePieceNoPrefix,
        Keys = (c, k) =>
        {
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["max_position_embeddings"])).Add(GgufKeys.EmbeddingLength, (uint)c.Int(["hidden_size"]))
                .Add(GgufKeys.BlockCount, (uint)c.Int(["num_hidden_layers"])).Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size"]))
                .Add(GgufKeys.HeadCount, (uint)c.Int(["num_attention_heads"])).Add(GgufKeys.HeadCountKv, (uint)c.Int(["num_key_value_heads", "num_attention_heads"]))
                .Add(GgufKeys.RmsEpsilon, (float)c.Number("rms_norm_eps")).Add(GgufKeys.KeyLength, (uint)c.Int(["head_dim"])).Add(GgufKeys.ValueLength, (uint)c.Int(["head_dim"]));
            k.Add(GgufKeys.AttnLogitSoftcap, (float)c.Number("attn_logit_softcapping")).Add(GgufKeys.FinalLogitSoftcap, (float)c.Number("final_logit_softcapping"))
                .Add(GgufKeys.SlidingWindow, (uint)c.Int(["sliding_window"]));
        },
        Map = n => Hf.Map(n, "model.layers.", SandwichBlock, Hf.LlamaGlobal),
        Transform = (t, _) => t.HfName.EndsWith("norm.weight", StringComparison.Ordinal) ? Hf.PlusOne(t) : t,
    };

    /// <summary>Gemma 2/3's block: post_attention_layernorm is the attention's post-norm, pre_feedforward_layernorm the
    /// MLP's pre-norm.</summary>
    internal static readonly Dictionary<string, string> SandwichBlock = Hf.With(Hf.LlamaBlock,
        ("post_attention_layernorm", "post_attention_norm"), ("pre_feedforward_layernorm", "ffn_norm"), ("post_feedforward_layernorm", "post_ffw_norm"));
}
