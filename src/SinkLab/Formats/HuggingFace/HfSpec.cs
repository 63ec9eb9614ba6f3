using System.Globalization;
using SinkLab.Models;

namespace SinkLab.Formats.HuggingFace;

/// <summary>A tensor on its way from a checkpoint to GGUF: its Hugging Face name and shape (PyTorch order), the GGUF
/// name it maps to, and its values (row-major), which a transform may rewrite.</summary>
/// <param name="HfName">Name in the checkpoint.</param>
/// <param name="GgufName">GGUF name.</param>
/// <param name="Shape">PyTorch shape (outermost first); a transform that changes it returns the new one.</param>
/// <param name="Data">Values.</param>
internal sealed record HfTensor(string HfName, string GgufName, long[] Shape, float[] Data);

/// <summary>
/// How an architecture's Hugging Face checkpoints become the GGUF llama.cpp's convert_hf_to_gguf.py writes: the model
/// classes it answers to, the tokenizer files it reads, the keys written from config.json, the tensor-name map, and
/// the transforms some tensors need (Llama's Q/K row permutation, Gemma's 1 + w norms, GPT-2's transposed Conv1D
/// weights, GPT-NeoX's per-head Q|K|V interleave). One per architecture file.
/// </summary>
internal sealed record HfSpec
{
    /// <summary>config.json <c>architectures[0]</c> values.</summary>
    public required string[] Classes { get; init; }
    /// <summary>Tokenizer files and mapping.</summary>
    public HfVocabKind Vocab { get; init; } = HfVocabKind.ByteLevelBpe;
    /// <summary>Writes the architecture's keys from config.json.</summary>
    public required Action<HfConfig, KeyWriter> Keys { get; init; }
    /// <summary>HF tensor name → GGUF name; null to skip a tensor the converter drops (rotary caches, masks, vision
    /// towers). Names neither mapped nor skipped are an error.</summary>
    public required Func<string, string?> Map { get; init; }
    /// <summary>Rewrites a mapped tensor (values and shape), or returns it unchanged.</summary>
    public Func<HfTensor, HfConfig, HfTensor>? Transform { get; init; }
    /// <summary>Extra tensors computed from config.json (Llama 3.1's rope_freqs).</summary>
    public Func<HfConfig, IEnumerable<HfTensor>>? Extra { get; init; }
}

/// <summary>Helpers shared by the architectures' <see cref="HfSpec"/>s.</summary>
internal static class Hf
{
    /// <summary>The GGUF keys llama.cpp's TextModel.set_gguf_parameters writes from the usual config.json names.</summary>
    public static void CommonKeys(HfConfig c, KeyWriter k, NormKind norm)
    {
        k.Add(GgufKeys.BlockCount, (uint)c.Int(["n_layers", "num_hidden_layers", "n_layer", "num_layers"]));
        if (c.Has("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length"))
            k.Add(GgufKeys.ContextLength, (uint)c.Int(["max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length"]));
        k.Add(GgufKeys.EmbeddingLength, (uint)c.Int(["hidden_size", "n_embd", "dim"]));
        k.Add(GgufKeys.FeedForwardLength, (uint)c.Int(["intermediate_size", "n_inner", "hidden_dim"]));
        k.Add(GgufKeys.HeadCount, (uint)c.Int(["num_attention_heads", "n_head", "n_heads"]));
        if (c.Has("num_key_value_heads", "n_kv_heads")) k.Add(GgufKeys.HeadCountKv, (uint)c.Int(["num_key_value_heads", "n_kv_heads"]));
        RopeScaling(c, k);
        if (c.Has("rope_theta", "rotary_emb_base")) k.Add(GgufKeys.RopeFreqBase, (float)c.Number("rope_theta", "rotary_emb_base"));
        if (norm == NormKind.RmsNorm) k.Add(GgufKeys.RmsEpsilon, (float)c.Number("rms_norm_eps", "norm_eps"));
        else k.Add(GgufKeys.LayerNormEpsilon, (float)c.Number("layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"));
        HeadDim(c, k);
    }

    /// <summary>key_length / value_length when config.json gives head_dim.</summary>
    public static void HeadDim(HfConfig c, KeyWriter k)
    {
        if (!c.Has("head_dim")) return;
        int hd = c.Int(["head_dim"]);
        k.Add(GgufKeys.KeyLength, (uint)hd).Add(GgufKeys.ValueLength, (uint)hd);
    }

    /// <summary>rope_scaling: linear → type and factor; llama3 → rope_freqs (an extra tensor); others refused.</summary>
    public static void RopeScaling(HfConfig c, KeyWriter k)
    {
        if (c.Object("rope_scaling") is not { } rs) return;
        string type = c.String(rs, "rope_type") ?? c.String(rs, "type") ?? "default";
        switch (type)
        {
            case "linear":
                k.Add(GgufKeys.RopeScalingType, "linear").Add(GgufKeys.RopeScalingFactor, (float)c.Number(rs, "factor", 1));
                break;
            case "llama3" or "default":
                break;
            default:
                throw new Gguf.ModelNotSupportedException($"rope_scaling {type}", $"{c.Path}: rope_scaling type '{type}' is not supported (supported: linear, llama3)");
        }
    }

    /// <summary>Llama 3.1's rope_freqs from rope_scaling (type llama3), as llama.cpp's converter computes them.</summary>
    public static IEnumerable<HfTensor> Llama3RopeFreqs(HfConfig c)
    {
        if (c.Object("rope_scaling") is not { } rs || (c.String(rs, "rope_type") ?? c.String(rs, "type")) != "llama3") yield break;
        double theta = c.Number(["rope_theta"], 10000);
        int dim = c.IntOr(["head_dim"], c.Int(["hidden_size"]) / c.Int(["num_attention_heads"]));
        double factor = c.Number(rs, "factor", 8), low = c.Number(rs, "low_freq_factor", 1), high = c.Number(rs, "high_freq_factor", 4);
        double old = c.Number(rs, "original_max_position_embeddings", 8192), lowWave = old / low, highWave = old / high;
        var f = new float[dim / 2];
        for (int i = 0; i < f.Length; i++)
        {
            float freq = 1f / MathF.Pow((float)theta, 2f * i / dim);
            double wave = 2 * Math.PI / freq;
            f[i] = wave < highWave ? 1 : wave > lowWave ? (float)factor : (float)(1 / ((1 - (old / wave - low) / (high - low)) / factor + (old / wave - low) / (high - low)));
        }
        yield return new HfTensor("(rope_scaling)", GgufKeys.RopeFreqs, [f.Length], f);
    }

    /// <summary>Maps <c>{prefix}{N}.{rest}.weight|bias</c> through <paramref name="block"/> (rest → GGUF suffix without
    /// .weight) and whole names through <paramref name="global"/>.</summary>
    public static string? Map(string name, string prefix, IReadOnlyDictionary<string, string> block, IReadOnlyDictionary<string, string> global)
    {
        string suffix = name.EndsWith(".weight", StringComparison.Ordinal) ? ".weight" : name.EndsWith(".bias", StringComparison.Ordinal) ? ".bias" : "";
        string stem = name[..^suffix.Length];
        if (global.TryGetValue(stem, out string? g)) return g + suffix;
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || suffix.Length == 0) return Unmapped;
        string rest = stem[prefix.Length..];
        int dot = rest.IndexOf('.');
        if (dot <= 0 || !int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int layer)) return Unmapped;
        return block.TryGetValue(rest[(dot + 1)..], out string? b) ? $"blk.{layer}.{b}{suffix}" : Unmapped;
    }

    /// <summary>Marks a name no rule maps (an error unless the architecture skips it).</summary>
    public const string Unmapped = "\0unmapped";

    /// <summary>The Llama-style block names (model.layers.N.…) most Hugging Face models use.</summary>
    public static readonly Dictionary<string, string> LlamaBlock = new(StringComparer.Ordinal)
    {
        ["input_layernorm"] = "attn_norm", ["self_attn.q_proj"] = "attn_q", ["self_attn.k_proj"] = "attn_k", ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output", ["post_attention_layernorm"] = "ffn_norm", ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up", ["mlp.down_proj"] = "ffn_down", ["self_attn.q_norm"] = "attn_q_norm", ["self_attn.k_norm"] = "attn_k_norm",
    };

    /// <summary>model.embed_tokens / model.norm / lm_head.</summary>
    public static readonly Dictionary<string, string> LlamaGlobal = new(StringComparer.Ordinal)
    {
        ["model.embed_tokens"] = "token_embd", ["model.norm"] = "output_norm", ["lm_head"] = "output",
    };

    /// <summary><paramref name="a"/> with <paramref name="overrides"/> replacing or adding entries.</summary>
    public static Dictionary<string, string> With(Dictionary<string, string> a, params (string Key, string Value)[] overrides)
    {
        var d = new Dictionary<string, string>(a, StringComparer.Ordinal);
        foreach (var (k, v) in overrides) d[k] = v;
        return d;
    }

    /// <summary>Undoes Hugging Face's rotary row order for llama.cpp's adjacent-pair RoPE: within each head the rows
    /// (first half, second half) become interleaved pairs (llama.cpp's LlamaModel.permute).</summary>
    public static float[] Permute(float[] w, long rows, long cols, int heads)
    {
        long headRows = rows / heads, half = headRows / 2;
        var r = new float[w.Length];
        for (int h = 0; h < heads; h++)
            for (long i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    Array.Copy(w, (h * headRows + j * half + i) * cols, r, (h * headRows + 2 * i + j) * cols, cols);
        return r;
    }

    /// <summary>Transposes a [rows, cols] matrix (GPT-2's Conv1D stores [in, out]).</summary>
    public static HfTensor Transpose(HfTensor t)
    {
        long rows = t.Shape[0], cols = t.Shape[1];
        var r = new float[t.Data.Length];
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j++) r[j * rows + i] = t.Data[i * cols + j];
        return t with { Shape = [cols, rows], Data = r };
    }

    /// <summary>Adds 1 to a norm's weights (Gemma's RMSNorm computes x · (1 + w); llama.cpp stores 1 + w).</summary>
    public static HfTensor PlusOne(HfTensor t) => t with { Data = t.Data.Select(v => v + 1).ToArray() };
}
