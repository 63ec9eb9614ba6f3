using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>mpt</c>: LayerNorm (bias tensors when present), fused Q|K|V clamped to ±clamp_kqv, ALiBi (slopes from
/// max_alibi_bias) and no position embedding, GELU MLP, output tied to the embedding unless output.weight exists.
/// With max_alibi_bias 0, a position_embd makes positions learned.</summary>
internal sealed class Mpt : Architecture
{
    public override string Name => "mpt";
    public override NormKind Norm => NormKind.LayerNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, Output = false };

    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes)
    {
        float maxBias = keys.Float(GgufKeys.MaxAlibiBias);
        return new()
        {
            Mlp = MlpKind.Gelu,
            Positions = maxBias > 0 ? PositionKind.Alibi : PositionKind.Learned,
            AlibiMaxBias = maxBias,
            ClampQkv = keys.Float(GgufKeys.ClampKqv, 0f),
            QueryScale = DefaultScale(sizes),
        };
    }

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape) => keys.Add(GgufKeys.MaxAlibiBias, 8f).Add(GgufKeys.ClampKqv, 2f);

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["MPTForCausalLM"],
        Keys = (c, k) =>
        {
            int dim = c.Int(["d_model"]);
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["max_seq_len"])).Add(GgufKeys.EmbeddingLength, (uint)dim)
                .Add(GgufKeys.BlockCount, (uint)c.Int(["n_layers"])).Add(GgufKeys.FeedForwardLength, (uint)(4 * dim))
                .Add(GgufKeys.HeadCount, (uint)c.Int(["n_heads"]));
            System.Text.Json.JsonElement attn = c.Object("attn_config") ?? throw c.Wrong("attn_config", "an object");
            if (c.Number(attn, "kv_n_heads", 0) is var kv and > 0) k.Add(GgufKeys.HeadCountKv, (uint)kv);
            k.Add(GgufKeys.LayerNormEpsilon, 1e-5f);
            if (c.Number(attn, "clip_qkv", 0) is var clip and > 0) k.Add(GgufKeys.ClampKqv, (float)clip);
            k.Add(GgufKeys.MaxAlibiBias, c.Bool(attn, "alibi", false) ? (float)c.Number(attn, "alibi_bias_max", 8) : 0f);
        },
        Map = n => Hf.Map(n, "transformer.blocks.", Block, Global),
    };

    private static readonly Dictionary<string, string> Block = new(StringComparer.Ordinal)
    {
        ["norm_1"] = "attn_norm", ["attn.Wqkv"] = "attn_qkv", ["attn.out_proj"] = "attn_output", ["norm_2"] = "ffn_norm",
        ["ffn.up_proj"] = "ffn_up", ["ffn.down_proj"] = "ffn_down",
    };

    private static readonly Dictionary<string, string> Global = new(StringComparer.Ordinal)
    {
        ["transformer.wte"] = "token_embd", ["transformer.norm_f"] = "output_norm", ["lm_head"] = "output",
    };
}
