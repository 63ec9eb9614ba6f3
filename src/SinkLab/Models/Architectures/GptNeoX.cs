using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>gptneox</c> (Pythia): LayerNorm with bias, fused Q|K|V with bias (the converter undoes HF's per-head
/// interleaving), NeoX RoPE over the first rope.dimension_count dims of each head, GELU MLP with biases, and the
/// parallel residual x + attn(ln₁(x)) + mlp(ln₂(x)) when <c>use_parallel_residual</c>.</summary>
internal sealed class GptNeoX : Architecture
{
    public override string Name => "gptneox";
    public override NormKind Norm => NormKind.LayerNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, QkvBias = true, OutputBias = true, MlpBias = true, NormBias = true };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Mlp = MlpKind.Gelu,
        Residual = keys.Bool(GgufKeys.ParallelResidual) ? ResidualKind.Parallel : ResidualKind.Sequential,
        QueryScale = DefaultScale(sizes),
    };

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.RopeDimensionCount, (uint)(shape.HeadSize / 4)).Add(GgufKeys.ParallelResidual, true);

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["GPTNeoXForCausalLM"],
        Keys = (c, k) =>
        {
            int dim = c.Int(["hidden_size"]), heads = c.Int(["num_attention_heads"]);
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["max_position_embeddings"])).Add(GgufKeys.EmbeddingLength, (uint)dim)
                .Add(GgufKeys.BlockCount, (uint)c.Int(["num_hidden_layers"])).Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size"]))
                .Add(GgufKeys.RopeDimensionCount, (uint)(int)(c.Number("rotary_pct") * (dim / heads))).Add(GgufKeys.HeadCount, (uint)heads)
                .Add(GgufKeys.ParallelResidual, c.Bool("use_parallel_residual", true)).Add(GgufKeys.LayerNormEpsilon, (float)c.Number("layer_norm_eps"));
        },
        Map = n =>
        {
            if (n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || n.EndsWith(".attention.bias", StringComparison.Ordinal)
                || n.EndsWith(".attention.masked_bias", StringComparison.Ordinal)) return null;
            return Hf.Map(n, "gpt_neox.layers.", Block, Global);
        },
        // HF interleaves Q, K and V per head ([head][q|k|v][dim]); llama.cpp wants all Q rows, then K, then V.
        Transform = (t, c) =>
        {
            if (!t.HfName.Contains("attention.query_key_value", StringComparison.Ordinal)) return t;
            int heads = c.Int(["num_attention_heads"]);
            long cols = t.Shape.Length > 1 ? t.Shape[1] : 1, hd = t.Shape[0] / (3 * heads);
            var r = new float[t.Data.Length];
            for (int h = 0; h < heads; h++)
                for (int part = 0; part < 3; part++)
                    Array.Copy(t.Data, ((h * 3 + part) * hd) * cols, r, ((part * heads + h) * hd) * cols, hd * cols);
            return t with { Data = r };
        },
    };

    private static readonly Dictionary<string, string> Block = new(StringComparer.Ordinal)
    {
        ["input_layernorm"] = "attn_norm", ["attention.query_key_value"] = "attn_qkv", ["attention.dense"] = "attn_output",
        ["post_attention_layernorm"] = "ffn_norm", ["mlp.dense_h_to_4h"] = "ffn_up", ["mlp.dense_4h_to_h"] = "ffn_down",
    };

    private static readonly Dictionary<string, string> Global = new(StringComparer.Ordinal)
    {
        ["gpt_neox.embed_in"] = "token_embd", ["gpt_neox.final_layer_norm"] = "output_norm", ["embed_out"] = "output",
    };
}
