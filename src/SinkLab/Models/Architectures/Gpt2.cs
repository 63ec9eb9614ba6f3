using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>gpt2</c>: learned absolute positions (position_embd, one row per position), LayerNorm with bias, fused
/// Q|K|V with bias, GELU MLP with biases, no RoPE.</summary>
internal sealed class Gpt2 : Architecture
{
    public override string Name => "gpt2";
    public override NormKind Norm => NormKind.LayerNorm;
    public override bool Gqa => false;
    public override TensorLayout Layout { get; } = new() { FusedQkv = true, QkvBias = true, OutputBias = true, MlpBias = true, NormBias = true };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Mlp = MlpKind.Gelu, Positions = PositionKind.Learned, QueryScale = DefaultScale(sizes),
    };

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["GPT2LMHeadModel"],
        Keys = (c, k) => k.Add(GgufKeys.BlockCount, (uint)c.Int(["n_layer"])).Add(GgufKeys.ContextLength, (uint)c.Int(["n_ctx", "n_positions"]))
            .Add(GgufKeys.EmbeddingLength, (uint)c.Int(["n_embd"])).Add(GgufKeys.FeedForwardLength, (uint)(4 * c.Int(["n_embd"])))
            .Add(GgufKeys.HeadCount, (uint)c.Int(["n_head"])).Add(GgufKeys.LayerNormEpsilon, (float)c.Number("layer_norm_epsilon")),
        Map = n =>
        {
            if (n.EndsWith(".attn.bias", StringComparison.Ordinal) || n.EndsWith(".attn.masked_bias", StringComparison.Ordinal)) return null;   // causal-mask buffers
            return Hf.Map(n.StartsWith("transformer.", StringComparison.Ordinal) ? n["transformer.".Length..] : n, "h.", Block, Global);
        },
        // GPT-2's Conv1D stores weights as [in, out].
        Transform = (t, _) => t.Shape.Length == 2 && t.HfName.EndsWith(".weight", StringComparison.Ordinal)
            && (t.HfName.Contains(".c_attn.", StringComparison.Ordinal) || t.HfName.Contains(".c_proj.", StringComparison.Ordinal) || t.HfName.Contains(".c_fc.", StringComparison.Ordinal))
            ? Hf.Transpose(t) : t,
    };

    private static readonly Dictionary<string, string> Block = new(StringComparer.Ordinal)
    {
        ["ln_1"] = "attn_norm", ["attn.c_attn"] = "attn_qkv", ["attn.c_proj"] = "attn_output", ["ln_2"] = "ffn_norm",
        ["mlp.c_fc"] = "ffn_up", ["mlp.c_proj"] = "ffn_down",
    };

    private static readonly Dictionary<string, string> Global = new(StringComparer.Ordinal)
    {
        ["wte"] = "token_embd", ["wpe"] = "position_embd", ["ln_f"] = "output_norm", ["lm_head"] = "output",
    };
}
