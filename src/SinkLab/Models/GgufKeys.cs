namespace SinkLab.Models;

/// <summary>
/// Every GGUF metadata key and tensor name SinkLab reads or writes, in one table (llama.cpp's spelling).
/// Architecture-specific keys are formed with <see cref="Arch"/>; block tensors with <see cref="Block"/>.
/// No other file spells a key.
/// </summary>
public static class GgufKeys
{
#pragma warning disable CS1591 // each constant is the GGUF key it names
    public const string Architecture = "general.architecture";
    public const string Name = "general.name";
    public const string Type = "general.type";
    public const string Alignment = "general.alignment";
    public const string FileType = "general.file_type";
    public const string QuantizationVersion = "general.quantization_version";

    public const string TokenizerModel = "tokenizer.ggml.model";
    public const string TokenizerPre = "tokenizer.ggml.pre";
    public const string Tokens = "tokenizer.ggml.tokens";
    public const string Scores = "tokenizer.ggml.scores";
    public const string TokenTypes = "tokenizer.ggml.token_type";
    public const string Merges = "tokenizer.ggml.merges";
    public const string BosId = "tokenizer.ggml.bos_token_id";
    public const string EosId = "tokenizer.ggml.eos_token_id";
    public const string UnknownId = "tokenizer.ggml.unknown_token_id";
    public const string SeparatorId = "tokenizer.ggml.seperator_token_id"; // sic: llama.cpp's spelling
    public const string PaddingId = "tokenizer.ggml.padding_token_id";
    public const string AddBos = "tokenizer.ggml.add_bos_token";
    public const string AddEos = "tokenizer.ggml.add_eos_token";
    public const string AddSpacePrefix = "tokenizer.ggml.add_space_prefix";
    public const string ChatTemplate = "tokenizer.chat_template";
    public const string EotId = "tokenizer.ggml.eot_token_id";
    /// <summary>End-of-message token id (Llama 3.1's <c>&lt;|eom_id|&gt;</c>).</summary>
    public const string EomId = "tokenizer.ggml.eom_token_id";

    // Suffixes of "{arch}.*" keys.
    public const string ContextLength = "context_length";
    public const string EmbeddingLength = "embedding_length";
    public const string FeedForwardLength = "feed_forward_length";
    public const string BlockCount = "block_count";
    public const string HeadCount = "attention.head_count";
    public const string HeadCountKv = "attention.head_count_kv";
    public const string KeyLength = "attention.key_length";
    public const string ValueLength = "attention.value_length";
    public const string RmsEpsilon = "attention.layer_norm_rms_epsilon";
    public const string LayerNormEpsilon = "attention.layer_norm_epsilon";
    public const string SlidingWindow = "attention.sliding_window";
    public const string MaxAlibiBias = "attention.max_alibi_bias";
    public const string ClampKqv = "attention.clamp_kqv";
    public const string AttnLogitSoftcap = "attn_logit_softcapping";
    public const string FinalLogitSoftcap = "final_logit_softcapping";
    public const string ParallelResidual = "use_parallel_residual";
    public const string RopeFreqBaseSwa = "rope.freq_base_swa";
    public const string RopeDimensionCount = "rope.dimension_count";
    public const string RopeFreqBase = "rope.freq_base";
    public const string RopeScalingType = "rope.scaling.type";
    public const string RopeScalingFactor = "rope.scaling.factor";
    public const string RopeScalingOriginalContext = "rope.scaling.original_context_length";
    public const string VocabSize = "vocab_size";
    public const string ExpertCount = "expert_count";
    public const string ExpertUsedCount = "expert_used_count";
    public const string ExpertFeedForwardLength = "expert_feed_forward_length";
    public const string ExpertGatingFunc = "expert_gating_func";   // llama.cpp: 1 softmax, 2 sigmoid, 3 softmax over the chosen

    // SinkLab's own keys, for what llama.cpp has no name for.
    public const string AttentionVariant = "sinklab.attention.variant";
    public const string SigmoidBias = "sinklab.attention.sigmoid_bias";

    // Tensor names.
    public const string TokenEmbedding = "token_embd.weight";
    public const string PositionEmbedding = "position_embd.weight";   // gpt2: learned absolute positions
    public const string OutputNorm = "output_norm.weight";
    public const string OutputNormBias = "output_norm.bias";
    public const string Output = "output.weight";
    public const string RopeFreqs = "rope_freqs.weight";
    public const string AttnNorm = "attn_norm.weight";
    public const string AttnNormBias = "attn_norm.bias";
    public const string AttnQkv = "attn_qkv.weight";        // fused Q|K|V rows (phi3, gpt2, gptneox, mpt)
    public const string AttnQkvBias = "attn_qkv.bias";
    public const string AttnQNorm = "attn_q_norm.weight";   // QK-norm (qwen3, gemma3: per head; olmo2: whole)
    public const string AttnKNorm = "attn_k_norm.weight";
    public const string AttnOutputBias = "attn_output.bias";
    public const string PostAttentionNorm = "post_attention_norm.weight";   // gemma2/3 sandwich, olmo2 post-norm
    public const string PostFfwNorm = "post_ffw_norm.weight";
    public const string AttnQ = "attn_q.weight";
    public const string AttnK = "attn_k.weight";
    public const string AttnV = "attn_v.weight";
    public const string AttnOutput = "attn_output.weight";
    public const string AttnQBias = "attn_q.bias";         // qwen2
    public const string AttnKBias = "attn_k.bias";
    public const string AttnVBias = "attn_v.bias";
    public const string AttnSinks = "attn_sinks.weight";   // gpt-oss: one learned logit per head
    public const string AttnGate = "attn_gate.weight";     // SinkLab gated attention: one gate row per head
    public const string FfnNorm = "ffn_norm.weight";
    public const string FfnNormBias = "ffn_norm.bias";
    public const string FfnUpBias = "ffn_up.bias";
    public const string FfnGateBias = "ffn_gate.bias";
    public const string FfnDownBias = "ffn_down.bias";
    public const string RopeFactorsLong = "rope_factors_long.weight";   // phi3 LongRoPE (not supported)
    public const string FfnGate = "ffn_gate.weight";
    public const string FfnGateInp = "ffn_gate_inp.weight";        // MoE router: experts × n_embd
    public const string FfnGateInpBias = "ffn_gate_inp.bias";
    public const string FfnGateExps = "ffn_gate_exps.weight";      // MoE experts, 3-D: n_embd × n_ff_exp × n_expert (ggml order)
    public const string FfnUpExps = "ffn_up_exps.weight";
    public const string FfnDownExps = "ffn_down_exps.weight";      // n_ff_exp × n_embd × n_expert
    public const string FfnGateExpsBias = "ffn_gate_exps.bias";    // n_ff_exp × n_expert
    public const string FfnUpExpsBias = "ffn_up_exps.bias";
    public const string FfnDownExpsBias = "ffn_down_exps.bias";    // n_embd × n_expert
    public const string FfnGateShexp = "ffn_gate_shexp.weight";    // shared experts: n_ff_shexp × n_embd
    public const string FfnUpShexp = "ffn_up_shexp.weight";
    public const string FfnDownShexp = "ffn_down_shexp.weight";    // n_embd × n_ff_shexp
    public const string FfnGateInpShexp = "ffn_gate_inp_shexp.weight";   // n_embd: σ(w·x) scales the shared experts
    public const string FfnDown = "ffn_down.weight";
    public const string FfnUp = "ffn_up.weight";
#pragma warning restore CS1591

    /// <summary>An architecture-scoped key, e.g. <c>Arch("llama", ContextLength)</c> = <c>llama.context_length</c>.</summary>
    public static string Arch(string architecture, string suffix) => architecture + "." + suffix;

    /// <summary>A per-block tensor name, e.g. <c>Block(3, AttnQ)</c> = <c>blk.3.attn_q.weight</c>.</summary>
    public static string Block(int layer, string suffix) => "blk." + layer.ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + suffix;
}
