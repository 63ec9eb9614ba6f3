using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Tests.HuggingFace;

/// <summary>
/// Writes Hugging Face checkpoint folders for tests: safetensors (F32, F16 or BF16; one file or shards with an index),
/// config.json and tokenizer files. <see cref="FromGguf"/> turns a SinkLab-written GGUF of any architecture back into the
/// folder a Hugging Face model of that architecture saves, undoing each converter transform with code written here from
/// the Hugging Face side (not by calling the converter): Llama's rotary row order, Gemma's 1 + w, GPT-2's Conv1D
/// orientation, GPT-NeoX's per-head Q|K|V interleave.
/// </summary>
internal static class HfFolder
{
    public static string NewDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"sinklab-hf-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Writes tensors (name → PyTorch shape, row-major values) as one safetensors file.</summary>
    public static void WriteSafetensors(string path, IEnumerable<(string Name, long[] Shape, float[] Data)> tensors, string dtype = "F32",
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        int size = dtype == "F32" ? 4 : 2;
        var header = new Dictionary<string, object>();
        if (metadata != null) header["__metadata__"] = metadata;
        using var data = new MemoryStream();
        Span<byte> b = stackalloc byte[4];
        foreach (var (name, shape, values) in tensors)
        {
            long begin = data.Length;
            foreach (float v in values)
            {
                if (dtype == "F32") BinaryPrimitives.WriteSingleLittleEndian(b, v);
                else if (dtype == "F16") BinaryPrimitives.WriteHalfLittleEndian(b, (Half)v);
                else BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16));
                data.Write(b[..size]);
            }
            header[name] = new { dtype, shape, data_offsets = new[] { begin, data.Length } };
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        using var f = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)json.Length);
        f.Write(len);
        f.Write(json);
        data.Position = 0;
        data.CopyTo(f);
    }

    public static void WriteJson(string path, object value) => File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>A byte-level BPE tokenizer.json of <paramref name="size"/> tokens: GPT-2's 256 byte symbols (ids 0-255)
    /// and the first merges of GPT-2's list whose parts are already present (ids 256…).</summary>
    public static void WriteByteLevelTokenizer(string dir, int size)
    {
        using GgufFile f = GgufFile.Open(Path.Combine(Shared.Tokenizers, "ggml-vocab-gpt-2.gguf"));
        string[] tokens = f.GetArray<string>("tokenizer.ggml.tokens");
        string[] merges = f.GetArray<string>("tokenizer.ggml.merges");
        var vocab = new Dictionary<string, int>();
        for (int i = 0; i < 256; i++) vocab[tokens[i]] = i;
        var kept = new List<string>();
        foreach (string m in merges)
        {
            if (vocab.Count == size) break;
            string[] parts = m.Split(' ');
            if (!vocab.ContainsKey(parts[0]) || !vocab.ContainsKey(parts[1]) || vocab.ContainsKey(parts[0] + parts[1])) continue;
            vocab[parts[0] + parts[1]] = vocab.Count;
            kept.Add(m);
        }
        WriteJson(Path.Combine(dir, "tokenizer.json"), new
        {
            version = "1.0",
            added_tokens = Array.Empty<object>(),
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
            post_processor = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = false, use_regex = true },
            decoder = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = true, use_regex = true },
            model = new { type = "BPE", fuse_unk = false, byte_fallback = false, vocab, merges = kept },
        });
    }

    /// <summary>A folder of architecture <paramref name="arch"/> holding the weights of <paramref name="gguf"/> (F32),
    /// laid out as its Hugging Face model class saves them; returns the folder.</summary>
    public static string FromGguf(GgufFile gguf, string arch, string dtype = "F32")
    {
        string dir = NewDir(arch);
        object? K(string s) => gguf.TryGetValue($"{arch}.{s}", out GgufValue v) ? v.Value : null;
        int I(string s) => Convert.ToInt32(K(s)!);
        int dim = I("embedding_length"), layers = I("block_count"), heads = I("attention.head_count"), ff = I("feed_forward_length");
        int kvHeads = K("attention.head_count_kv") is { } kv ? Convert.ToInt32(kv) : heads, hd = K("attention.key_length") is { } kl ? Convert.ToInt32(kl) : dim / heads;
        int vocab = (int)gguf.Tensors.First(t => t.Name == "token_embd.weight").RowCount, ctx = I("context_length");
        float F(string s, float fallback = 0) => K(s) is { } v ? Convert.ToSingle(v) : fallback;
        float[] T(string name)
        {
            GgufTensorInfo t = gguf.Tensors.First(x => x.Name == name);
            var a = new float[t.Dimensions.Aggregate(1L, (p, d) => p * d)];
            Quantizer.Dequantize(t.Type, gguf.GetTensorData(t), a);
            return a;
        }
        bool Has(string name) => gguf.TryGetTensor(name, out _);
        var tensors = new List<(string, long[], float[])>();
        void Put(string name, float[] data, params long[] shape) => tensors.Add((name, shape, data));
        void Mat(string hf, string g, long rows, long cols) => Put(hf, T(g), rows, cols);
        void Vec(string hf, string g, long n) { if (Has(g)) Put(hf, T(g), n); }
        float[] MinusOne(float[] a) => a.Select(v => v - 1).ToArray();
        string L(int l, string s) => $"blk.{l}.{s}";

        object config;
        switch (arch)
        {
            case "llama" or "qwen2" or "qwen3" or "olmo2" or "starcoder2" or "stablelm":
            {
                bool ln = arch is "starcoder2" or "stablelm";
                Put("model.embed_tokens.weight", T("token_embd.weight"), vocab, dim);
                Vec("model.norm.weight", "output_norm.weight", dim);
                Vec("model.norm.bias", "output_norm.bias", dim);
                if (Has("output.weight")) Mat("lm_head.weight", "output.weight", vocab, dim);
                for (int l = 0; l < layers; l++)
                {
                    string P = $"model.layers.{l}.";
                    if (arch != "olmo2") { Vec(P + "input_layernorm.weight", L(l, "attn_norm.weight"), dim); Vec(P + "input_layernorm.bias", L(l, "attn_norm.bias"), dim); }
                    float[] q = T(L(l, "attn_q.weight")), k = T(L(l, "attn_k.weight"));
                    if (arch == "llama") { q = HfRotaryOrder(q, heads, hd, dim); k = HfRotaryOrder(k, kvHeads, hd, dim); }
                    Put(P + "self_attn.q_proj.weight", q, heads * hd, dim);
                    Put(P + "self_attn.k_proj.weight", k, kvHeads * hd, dim);
                    Mat(P + "self_attn.v_proj.weight", L(l, "attn_v.weight"), kvHeads * hd, dim);
                    Mat(P + "self_attn.o_proj.weight", L(l, "attn_output.weight"), dim, heads * hd);
                    Vec(P + "self_attn.q_proj.bias", L(l, "attn_q.bias"), heads * hd);
                    Vec(P + "self_attn.k_proj.bias", L(l, "attn_k.bias"), kvHeads * hd);
                    Vec(P + "self_attn.v_proj.bias", L(l, "attn_v.bias"), kvHeads * hd);
                    Vec(P + "self_attn.o_proj.bias", L(l, "attn_output.bias"), dim);
                    if (arch == "qwen3") { Vec(P + "self_attn.q_norm.weight", L(l, "attn_q_norm.weight"), hd); Vec(P + "self_attn.k_norm.weight", L(l, "attn_k_norm.weight"), hd); }
                    if (arch == "olmo2")
                    {
                        Vec(P + "self_attn.q_norm.weight", L(l, "attn_q_norm.weight"), heads * hd);
                        Vec(P + "self_attn.k_norm.weight", L(l, "attn_k_norm.weight"), kvHeads * hd);
                        Vec(P + "post_attention_layernorm.weight", L(l, "post_attention_norm.weight"), dim);
                        Vec(P + "post_feedforward_layernorm.weight", L(l, "post_ffw_norm.weight"), dim);
                    }
                    else { Vec(P + "post_attention_layernorm.weight", L(l, "ffn_norm.weight"), dim); Vec(P + "post_attention_layernorm.bias", L(l, "ffn_norm.bias"), dim); }
                    if (arch == "starcoder2")
                    {
                        Mat(P + "mlp.c_fc.weight", L(l, "ffn_up.weight"), ff, dim); Vec(P + "mlp.c_fc.bias", L(l, "ffn_up.bias"), ff);
                        Mat(P + "mlp.c_proj.weight", L(l, "ffn_down.weight"), dim, ff); Vec(P + "mlp.c_proj.bias", L(l, "ffn_down.bias"), dim);
                    }
                    else
                    {
                        Mat(P + "mlp.gate_proj.weight", L(l, "ffn_gate.weight"), ff, dim);
                        Mat(P + "mlp.up_proj.weight", L(l, "ffn_up.weight"), ff, dim);
                        Mat(P + "mlp.down_proj.weight", L(l, "ffn_down.weight"), dim, ff);
                    }
                }
                string cls = arch switch { "llama" => "LlamaForCausalLM", "qwen2" => "Qwen2ForCausalLM", "qwen3" => "Qwen3ForCausalLM", "olmo2" => "Olmo2ForCausalLM", "starcoder2" => "Starcoder2ForCausalLM", _ => "StableLmForCausalLM" };
                var c = new Dictionary<string, object>
                {
                    ["architectures"] = new[] { cls }, ["model_type"] = arch, ["hidden_size"] = dim, ["intermediate_size"] = ff, ["num_hidden_layers"] = layers,
                    ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads, ["max_position_embeddings"] = ctx, ["vocab_size"] = vocab,
                    ["rope_theta"] = F("rope.freq_base", 10000), ["tie_word_embeddings"] = !Has("output.weight"),
                };
                if (ln) c[arch == "starcoder2" ? "norm_epsilon" : "layer_norm_eps"] = F("attention.layer_norm_epsilon");
                else c["rms_norm_eps"] = F("attention.layer_norm_rms_epsilon");
                if (arch == "qwen3") c["head_dim"] = hd;
                if (arch == "stablelm") { c["partial_rotary_factor"] = I("rope.dimension_count") / (double)hd; c["use_parallel_residual"] = false; c["use_qkv_bias"] = true; }
                config = c;
                break;
            }
            case "gemma" or "gemma2" or "gemma3":
            {
                Put("model.embed_tokens.weight", T("token_embd.weight"), vocab, dim);
                Put("model.norm.weight", MinusOne(T("output_norm.weight")), dim);
                for (int l = 0; l < layers; l++)
                {
                    string P = $"model.layers.{l}.";
                    Put(P + "input_layernorm.weight", MinusOne(T(L(l, "attn_norm.weight"))), dim);
                    Mat(P + "self_attn.q_proj.weight", L(l, "attn_q.weight"), heads * hd, dim);
                    Mat(P + "self_attn.k_proj.weight", L(l, "attn_k.weight"), kvHeads * hd, dim);
                    Mat(P + "self_attn.v_proj.weight", L(l, "attn_v.weight"), kvHeads * hd, dim);
                    Mat(P + "self_attn.o_proj.weight", L(l, "attn_output.weight"), dim, heads * hd);
                    if (arch == "gemma3")
                    {
                        Put(P + "self_attn.q_norm.weight", MinusOne(T(L(l, "attn_q_norm.weight"))), hd);
                        Put(P + "self_attn.k_norm.weight", MinusOne(T(L(l, "attn_k_norm.weight"))), hd);
                    }
                    if (arch == "gemma") Put(P + "post_attention_layernorm.weight", MinusOne(T(L(l, "ffn_norm.weight"))), dim);
                    else
                    {
                        Put(P + "post_attention_layernorm.weight", MinusOne(T(L(l, "post_attention_norm.weight"))), dim);
                        Put(P + "pre_feedforward_layernorm.weight", MinusOne(T(L(l, "ffn_norm.weight"))), dim);
                        Put(P + "post_feedforward_layernorm.weight", MinusOne(T(L(l, "post_ffw_norm.weight"))), dim);
                    }
                    Mat(P + "mlp.gate_proj.weight", L(l, "ffn_gate.weight"), ff, dim);
                    Mat(P + "mlp.up_proj.weight", L(l, "ffn_up.weight"), ff, dim);
                    Mat(P + "mlp.down_proj.weight", L(l, "ffn_down.weight"), dim, ff);
                }
                var c = new Dictionary<string, object>
                {
                    ["architectures"] = new[] { arch == "gemma" ? "GemmaForCausalLM" : arch == "gemma2" ? "Gemma2ForCausalLM" : "Gemma3ForCausalLM" },
                    ["model_type"] = arch == "gemma3" ? "gemma3_text" : arch, ["hidden_size"] = dim, ["intermediate_size"] = ff, ["num_hidden_layers"] = layers,
                    ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads, ["head_dim"] = hd, ["max_position_embeddings"] = ctx,
                    ["vocab_size"] = vocab, ["rms_norm_eps"] = F("attention.layer_norm_rms_epsilon"),
                };
                if (arch == "gemma2")
                {
                    c["attn_logit_softcapping"] = F("attn_logit_softcapping"); c["final_logit_softcapping"] = F("final_logit_softcapping");
                    c["sliding_window"] = I("attention.sliding_window"); c["query_pre_attn_scalar"] = hd;
                }
                if (arch == "gemma3")
                {
                    c["rope_theta"] = F("rope.freq_base"); c["rope_local_base_freq"] = F("rope.freq_base_swa"); c["sliding_window"] = I("attention.sliding_window");
                    c["sliding_window_pattern"] = 6; c["rope_scaling"] = new { rope_type = "linear", factor = F("rope.scaling.factor") };
                }
                config = c;
                File.Copy(Path.Combine(Shared.Models, "tok512.model"), Path.Combine(dir, "tokenizer.model"));
                break;
            }
            case "phi3":
            {
                Put("model.embed_tokens.weight", T("token_embd.weight"), vocab, dim);
                Vec("model.norm.weight", "output_norm.weight", dim);
                Mat("lm_head.weight", "output.weight", vocab, dim);
                for (int l = 0; l < layers; l++)
                {
                    string P = $"model.layers.{l}.";
                    Vec(P + "input_layernorm.weight", L(l, "attn_norm.weight"), dim);
                    Mat(P + "self_attn.qkv_proj.weight", L(l, "attn_qkv.weight"), (heads + 2 * kvHeads) * hd, dim);
                    Mat(P + "self_attn.o_proj.weight", L(l, "attn_output.weight"), dim, heads * hd);
                    Vec(P + "post_attention_layernorm.weight", L(l, "ffn_norm.weight"), dim);
                    Mat(P + "mlp.gate_up_proj.weight", L(l, "ffn_up.weight"), 2 * ff, dim);
                    Mat(P + "mlp.down_proj.weight", L(l, "ffn_down.weight"), dim, ff);
                }
                config = new Dictionary<string, object>
                {
                    ["architectures"] = new[] { "Phi3ForCausalLM" }, ["model_type"] = "phi3", ["hidden_size"] = dim, ["intermediate_size"] = ff,
                    ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads, ["max_position_embeddings"] = ctx,
                    ["original_max_position_embeddings"] = ctx, ["vocab_size"] = vocab, ["rms_norm_eps"] = F("attention.layer_norm_rms_epsilon"),
                    ["rope_theta"] = F("rope.freq_base", 10000), ["sliding_window"] = I("attention.sliding_window"),
                };
                File.Copy(Path.Combine(Shared.Models, "tok512.model"), Path.Combine(dir, "tokenizer.model"));
                break;
            }
            case "gpt2":
            {
                Put("wte.weight", T("token_embd.weight"), vocab, dim);
                Put("wpe.weight", T("position_embd.weight"), ctx, dim);
                Vec("ln_f.weight", "output_norm.weight", dim); Vec("ln_f.bias", "output_norm.bias", dim);
                if (Has("output.weight")) Mat("lm_head.weight", "output.weight", vocab, dim);
                for (int l = 0; l < layers; l++)
                {
                    string P = $"h.{l}.";
                    Vec(P + "ln_1.weight", L(l, "attn_norm.weight"), dim); Vec(P + "ln_1.bias", L(l, "attn_norm.bias"), dim);
                    Put(P + "attn.c_attn.weight", Transposed(T(L(l, "attn_qkv.weight")), 3 * dim, dim), dim, 3 * dim);   // Conv1D: [in, out]
                    Vec(P + "attn.c_attn.bias", L(l, "attn_qkv.bias"), 3 * dim);
                    Put(P + "attn.c_proj.weight", Transposed(T(L(l, "attn_output.weight")), dim, dim), dim, dim);
                    Vec(P + "attn.c_proj.bias", L(l, "attn_output.bias"), dim);
                    Put(P + "attn.bias", new float[ctx * ctx], 1, 1, ctx, ctx);   // the causal-mask buffer old checkpoints carry
                    Vec(P + "ln_2.weight", L(l, "ffn_norm.weight"), dim); Vec(P + "ln_2.bias", L(l, "ffn_norm.bias"), dim);
                    Put(P + "mlp.c_fc.weight", Transposed(T(L(l, "ffn_up.weight")), ff, dim), dim, ff);
                    Vec(P + "mlp.c_fc.bias", L(l, "ffn_up.bias"), ff);
                    Put(P + "mlp.c_proj.weight", Transposed(T(L(l, "ffn_down.weight")), dim, ff), ff, dim);
                    Vec(P + "mlp.c_proj.bias", L(l, "ffn_down.bias"), dim);
                }
                config = new Dictionary<string, object>
                {
                    ["architectures"] = new[] { "GPT2LMHeadModel" }, ["model_type"] = "gpt2", ["n_embd"] = dim, ["n_layer"] = layers, ["n_head"] = heads,
                    ["n_ctx"] = ctx, ["n_positions"] = ctx, ["vocab_size"] = vocab, ["layer_norm_epsilon"] = F("attention.layer_norm_epsilon"),
                };
                break;
            }
            case "gptneox":
            {
                Put("gpt_neox.embed_in.weight", T("token_embd.weight"), vocab, dim);
                Vec("gpt_neox.final_layer_norm.weight", "output_norm.weight", dim); Vec("gpt_neox.final_layer_norm.bias", "output_norm.bias", dim);
                Mat("embed_out.weight", "output.weight", vocab, dim);
                for (int l = 0; l < layers; l++)
                {
                    string P = $"gpt_neox.layers.{l}.";
                    Vec(P + "input_layernorm.weight", L(l, "attn_norm.weight"), dim); Vec(P + "input_layernorm.bias", L(l, "attn_norm.bias"), dim);
                    Put(P + "attention.query_key_value.weight", PerHeadQkv(T(L(l, "attn_qkv.weight")), heads, hd, dim), 3 * dim, dim);
                    Put(P + "attention.query_key_value.bias", PerHeadQkv(T(L(l, "attn_qkv.bias")), heads, hd, 1), 3 * dim);
                    Put(P + "attention.rotary_emb.inv_freq", new float[I("rope.dimension_count") / 2], I("rope.dimension_count") / 2);
                    Mat(P + "attention.dense.weight", L(l, "attn_output.weight"), dim, dim); Vec(P + "attention.dense.bias", L(l, "attn_output.bias"), dim);
                    Vec(P + "post_attention_layernorm.weight", L(l, "ffn_norm.weight"), dim); Vec(P + "post_attention_layernorm.bias", L(l, "ffn_norm.bias"), dim);
                    Mat(P + "mlp.dense_h_to_4h.weight", L(l, "ffn_up.weight"), ff, dim); Vec(P + "mlp.dense_h_to_4h.bias", L(l, "ffn_up.bias"), ff);
                    Mat(P + "mlp.dense_4h_to_h.weight", L(l, "ffn_down.weight"), dim, ff); Vec(P + "mlp.dense_4h_to_h.bias", L(l, "ffn_down.bias"), dim);
                }
                config = new Dictionary<string, object>
                {
                    ["architectures"] = new[] { "GPTNeoXForCausalLM" }, ["model_type"] = "gpt_neox", ["hidden_size"] = dim, ["intermediate_size"] = ff,
                    ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["max_position_embeddings"] = ctx, ["vocab_size"] = vocab,
                    ["rotary_pct"] = I("rope.dimension_count") / (double)hd, ["use_parallel_residual"] = true, ["layer_norm_eps"] = F("attention.layer_norm_epsilon"),
                };
                break;
            }
            case "mpt":
            {
                Put("transformer.wte.weight", T("token_embd.weight"), vocab, dim);
                Vec("transformer.norm_f.weight", "output_norm.weight", dim);
                for (int l = 0; l < layers; l++)
                {
                    string P = $"transformer.blocks.{l}.";
                    Vec(P + "norm_1.weight", L(l, "attn_norm.weight"), dim);
                    Mat(P + "attn.Wqkv.weight", L(l, "attn_qkv.weight"), 3 * dim, dim);
                    Mat(P + "attn.out_proj.weight", L(l, "attn_output.weight"), dim, dim);
                    Vec(P + "norm_2.weight", L(l, "ffn_norm.weight"), dim);
                    Mat(P + "ffn.up_proj.weight", L(l, "ffn_up.weight"), ff, dim);
                    Mat(P + "ffn.down_proj.weight", L(l, "ffn_down.weight"), dim, ff);
                }
                config = new Dictionary<string, object>
                {
                    ["architectures"] = new[] { "MPTForCausalLM" }, ["model_type"] = "mpt", ["d_model"] = dim, ["n_layers"] = layers, ["n_heads"] = heads,
                    ["max_seq_len"] = ctx, ["vocab_size"] = vocab, ["expansion_ratio"] = ff / dim, ["no_bias"] = true,
                    ["attn_config"] = new { alibi = true, alibi_bias_max = F("attention.max_alibi_bias"), clip_qkv = F("attention.clamp_kqv") },
                };
                Assert.Equal(4 * dim, ff);
                break;
            }
            default: throw new ArgumentException(arch);
        }
        WriteSafetensors(Path.Combine(dir, "model.safetensors"), tensors, dtype);
        WriteJson(Path.Combine(dir, "config.json"), config);
        if (!File.Exists(Path.Combine(dir, "tokenizer.model")))
        {
            if (arch == "llama") File.Copy(Path.Combine(Shared.Models, "tok512.model"), Path.Combine(dir, "tokenizer.model"));
            else WriteByteLevelTokenizer(dir, vocab);
        }
        return dir;
    }

    /// <summary>Hugging Face's rotary row order from llama.cpp's: within a head, GGUF row 2i + j is HF row j·(hd/2) + i.</summary>
    private static float[] HfRotaryOrder(float[] gguf, int heads, int hd, int cols)
    {
        var hf = new float[gguf.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++)
                for (int j = 0; j < 2; j++)
                    Array.Copy(gguf, (long)(h * hd + 2 * i + j) * cols, hf, (long)(h * hd + j * (hd / 2) + i) * cols, cols);
        return hf;
    }

    /// <summary>GPT-NeoX's per-head interleave from llama.cpp's Q|K|V rows: HF row block (head h, part p) is GGUF block (p, h).</summary>
    private static float[] PerHeadQkv(float[] gguf, int heads, int hd, int cols)
    {
        var hf = new float[gguf.Length];
        for (int p = 0; p < 3; p++)
            for (int h = 0; h < heads; h++)
                Array.Copy(gguf, (long)(p * heads + h) * hd * cols, hf, (long)(h * 3 + p) * hd * cols, (long)hd * cols);
        return hf;
    }

    /// <summary>[rows, cols] → [cols, rows].</summary>
    private static float[] Transposed(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }
}
