using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>llama</c>: RMSNorm, SwiGLU, RoPE on adjacent pairs (the converter permutes HF's Q/K rows for it), GQA.
/// Also what converted Mistral, SmolLM and TinyLlama files declare. llama.cpp reads no sliding window for it.</summary>
internal sealed class Llama : Architecture
{
    public override string Name => "llama";
    public override NormKind Norm => NormKind.RmsNorm;
    public override RopeStyle RopeStyle => RopeStyle.Normal;
    public override TensorLayout Layout { get; } = new();
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new() { QueryScale = DefaultScale(sizes) };

    internal override void WriteKeys(KeyWriter keys, SyntheticShape shape)
        => keys.Add(GgufKeys.RopeDimensionCount, (uint)shape.HeadSize).Add(GgufKeys.RopeFreqBase, 10000f);

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["LlamaForCausalLM", "MistralForCausalLM", "LLaMAForCausalLM"],
        Vocab = HfVocabKind.Llama,
        Keys = (c, k) =>
        {
            Hf.CommonKeys(c, k, NormKind.RmsNorm);
            k.Add(GgufKeys.VocabSize, (uint)c.Int(["vocab_size"]));
            k.Add(GgufKeys.RopeDimensionCount, (uint)c.IntOr(["head_dim"], c.Int(["hidden_size"]) / c.Int(["num_attention_heads"])));
        },
        Map = n => Hf.Map(n, "model.layers.", Hf.LlamaBlock, Hf.LlamaGlobal),
        // HF orders each head's rotary rows as (first halves, second halves); llama.cpp's NORM RoPE wants pairs.
        Transform = (t, c) =>
        {
            int heads = c.Int(["num_attention_heads"]), kv = c.IntOr(["num_key_value_heads"], heads);
            bool q = t.HfName.Contains("self_attn.q_proj", StringComparison.Ordinal), k = t.HfName.Contains("self_attn.k_proj", StringComparison.Ordinal);
            if (!q && !k) return t;
            long rows = t.Shape[0], cols = t.Shape.Length > 1 ? t.Shape[1] : 1;
            return t with { Data = Hf.Permute(t.Data, rows, cols, q ? heads : kv) };
        },
        Extra = Hf.Llama3RopeFreqs,
    };
}
