using SinkLab.Formats.HuggingFace;
namespace SinkLab.Models.Architectures;

/// <summary><c>gemma</c>: embedding × √n_embd, GeGLU, NeoX RoPE over key_length, output tied to the embedding (llama.cpp
/// never reads an output.weight for it). Norm weights are used as stored: the converter folds HF's 1 + w in.</summary>
internal sealed class Gemma : Architecture
{
    public override string Name => "gemma";
    public override NormKind Norm => NormKind.RmsNorm;
    public override TensorLayout Layout { get; } = new() { Output = false };
    internal override BlockDescription Describe(ArchKeys keys, ModelSizes sizes) => new()
    {
        Mlp = MlpKind.GeGlu,
        EmbeddingScale = MathF.Sqrt(sizes.Dim),
        QueryScale = DefaultScale(sizes),
    };

    internal override HfSpec HuggingFace { get; } = new()
    {
        Classes = ["GemmaForCausalLM"],
        Vocab = HfVocabKind.SentencePieceNoPrefix,
        Keys = (c, k) =>
        {
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["max_position_embeddings"])).Add(GgufKeys.EmbeddingLength, (uint)c.Int(["hidden_size"]))
                .Add(GgufKeys.BlockCount, (uint)c.Int(["num_hidden_layers"])).Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size"]))
                .Add(GgufKeys.HeadCount, (uint)c.Int(["num_attention_heads"])).Add(GgufKeys.HeadCountKv, (uint)c.Int(["num_key_value_heads", "num_attention_heads"]))
                .Add(GgufKeys.RmsEpsilon, (float)c.Number("rms_norm_eps")).Add(GgufKeys.KeyLength, (uint)c.Int(["head_dim"])).Add(GgufKeys.ValueLength, (uint)c.Int(["head_dim"]));
        },
        Map = n => Hf.Map(n, "model.layers.", Hf.LlamaBlock, Hf.LlamaGlobal),
        // Gemma's RMSNorm computes x · (1 + w): llama.cpp stores 1 + w.
        Transform = (t, _) => t.HfName.EndsWith("norm.weight", StringComparison.Ordinal) ? Hf.PlusOne(t) : t,
    };
}
