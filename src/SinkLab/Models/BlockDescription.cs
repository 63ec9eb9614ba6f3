namespace SinkLab.Models;

/// <summary>How a block normalises its inputs.</summary>
public enum NormKind
{
    /// <summary>RMSNorm: x / sqrt(mean(x²) + ε) ⊙ w (Gemma's too: its converter folds HF's 1 + w into the stored w).</summary>
    RmsNorm,
    /// <summary>LayerNorm: (x − mean) / sqrt(var + ε) ⊙ w (+ b when the file has a bias).</summary>
    LayerNorm,
}

/// <summary>Where a block's norms sit.</summary>
public enum NormPlacement
{
    /// <summary>Before attention and before the MLP (Llama, GPT-2, …).</summary>
    Pre,
    /// <summary>Before and after each sub-layer, the output normalised before the residual add (Gemma 2/3).</summary>
    Sandwich,
    /// <summary>Only after each sub-layer, before the residual add (OLMo 2).</summary>
    Post,
}

/// <summary>How attention and MLP meet the residual stream.</summary>
public enum ResidualKind
{
    /// <summary>x += attn(·); x += mlp(·), the MLP seeing the updated stream.</summary>
    Sequential,
    /// <summary>x += attn(norm₁(x)) + mlp(norm₂(x)) (GPT-NeoX's use_parallel_residual).</summary>
    Parallel,
    /// <summary>x += attn(norm₁(x)) + mlp(norm₁(x)): one norm feeds both (StableLM without ffn_norm, Phi-2).</summary>
    ParallelSharedNorm,
}

/// <summary>The feed-forward block.</summary>
public enum MlpKind
{
    /// <summary>down(silu(gate·x) ⊙ up·x).</summary>
    SwiGlu,
    /// <summary>down(gelu(gate·x) ⊙ up·x) (Gemma).</summary>
    GeGlu,
    /// <summary>down(gelu(up·x + b) ) + b (GPT-2, GPT-NeoX, MPT, StarCoder 2).</summary>
    Gelu,
    /// <summary>gpt-oss's clamped SwiGLU: with g = min(gate·x + b, 7) and u = clamp(up·x + b, −7, 7),
    /// down(g · σ(1.702 g) · (u + 1)) + b (ggml's <c>swiglu_oai</c>).</summary>
    SwiGluOai,
}

/// <summary>How a mixture-of-experts block turns router logits into expert weights.</summary>
public enum ExpertGating
{
    /// <summary>The top-k router logits are chosen, then a softmax over those k alone gives their weights (gpt-oss;
    /// llama.cpp's <c>expert_gating_func</c> 3, "softmax weight").</summary>
    SoftmaxOfSelected,
    /// <summary>A softmax over every expert's logit; the chosen experts keep their probabilities (Mixtral, OLMoE, Qwen-MoE;
    /// <c>expert_gating_func</c> 1), renormalised over the chosen when <see cref="MoeSpec.NormalizeWeights"/>.</summary>
    Softmax,
    /// <summary>σ(logit) of each chosen expert (DeepSeek V3; <c>expert_gating_func</c> 2), renormalised when asked.</summary>
    Sigmoid,
}

/// <summary>A mixture-of-experts feed-forward block: a router (logits = W·x + b over <see cref="Experts"/>), the top
/// <see cref="Used"/> experts per token weighted by <see cref="Gating"/>, each expert an MLP of
/// <see cref="ExpertHidden"/> units of the block's <see cref="BlockDescription.Mlp"/> kind; the output is the weighted
/// sum of the chosen experts' outputs.</summary>
/// <param name="Experts">expert_count.</param>
/// <param name="Used">expert_used_count (top-k).</param>
/// <param name="ExpertHidden">expert_feed_forward_length.</param>
/// <param name="Gating">How the chosen logits become weights.</param>
/// <param name="NormalizeWeights">Divide the chosen weights by their sum (llama.cpp's <c>expert_weights_norm</c>).</param>
/// <param name="WeightScale">Multiply them by this (<c>expert_weights_scale</c>).</param>
/// <remarks>Shared experts (<c>ffn_*_shexp</c>, every token through them, optionally gated by σ(w·x) with
/// <c>ffn_gate_inp_shexp</c>) are taken from the file's tensors when present (<see cref="ExpertWeights.SharedUp"/>).</remarks>
public sealed record MoeSpec(int Experts, int Used, int ExpertHidden, ExpertGating Gating, bool NormalizeWeights = false, float WeightScale = 1f)
{
    /// <summary>llama.cpp's <c>expert_gating_func</c> values: 1 softmax, 2 sigmoid, 3 softmax over the chosen.</summary>
    public static ExpertGating? GatingOf(int value) => value switch
    {
        1 => ExpertGating.Softmax,
        2 => ExpertGating.Sigmoid,
        3 => ExpertGating.SoftmaxOfSelected,
        _ => null,
    };
}

/// <summary>How positions enter the model.</summary>
public enum PositionKind
{
    /// <summary>Rotary embeddings on queries and keys.</summary>
    Rope,
    /// <summary>A learned absolute position embedding added to the token embedding (GPT-2).</summary>
    Learned,
    /// <summary>ALiBi: −slope_h · distance added to every score (MPT).</summary>
    Alibi,
}

/// <summary>Normalisation of queries and keys before RoPE.</summary>
public enum QkNormKind
{
    /// <summary>None.</summary>
    None,
    /// <summary>Each head's vector normalised with weights of head size (Qwen 3, Gemma 3).</summary>
    PerHead,
    /// <summary>The whole projected Q (and K) vector normalised with weights of its full width (OLMo 2).</summary>
    Whole,
}

/// <summary>How RoPE pairs the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (x[2i], x[2i+1]): llama.cpp's <c>LLAMA_ROPE_TYPE_NORM</c>, used by GGUF llama models.</summary>
    Normal,
    /// <summary>Halves (x[i], x[i + n_rot/2]): GPT-NeoX ordering, used by qwen2 and most others.</summary>
    NeoX,
}

/// <summary>RoPE frequencies of a layer: θ_i = base^(−2i/n_rot) · <see cref="FreqScale"/> (÷ rope_freqs factor), or
/// YaRN's blend of interpolated and original frequencies when <see cref="Yarn"/> is set.</summary>
/// <param name="Base">rope.freq_base (or the sliding-window base for local layers).</param>
/// <param name="FreqScale">Linear position scaling, 1 / rope.scaling.factor (1 when unscaled or YaRN).</param>
/// <param name="Yarn">YaRN scaling (rope.scaling.type = yarn), or null.</param>
public sealed record RopeConfig(float Base, float FreqScale = 1f, YarnScaling? Yarn = null);

/// <summary>
/// YaRN RoPE scaling (Peng et al. 2023) as ggml computes it with llama.cpp's defaults (ext_factor 1, β_fast 32,
/// β_slow 1, attention factor 1): for pair i of n_rot dimensions, with the correction range
/// low = max(0, ⌊n_rot·ln(n_ctx_orig / (β_fast·2π)) / (2 ln base)⌋), high = min(n_rot − 1, ⌈n_rot·ln(n_ctx_orig / (β_slow·2π)) / (2 ln base)⌉)
/// and r_i = 1 − clamp((i − low) / max(0.001, high − low), 0, 1), the angle is θ_i·pos·((1 − r_i)/factor + r_i), and
/// cos and sin are multiplied by m = 1 + 0.1·ln(factor) (so Q·K grows by m²). High-frequency pairs keep their angles,
/// low-frequency ones are interpolated by the factor.
/// </summary>
/// <param name="Factor">rope.scaling.factor (> 1 stretches the context).</param>
/// <param name="OriginalContext">rope.scaling.original_context_length.</param>
public sealed record YarnScaling(float Factor, int OriginalContext)
{
    /// <summary>β_fast: rotations per original context below which a pair is interpolated fully.</summary>
    public const float BetaFast = 32f;
    /// <summary>β_slow: rotations per original context above which a pair keeps its frequency.</summary>
    public const float BetaSlow = 1f;

    /// <summary>The correction range [low, high] of pair indices for <paramref name="ropeDim"/> rotated dimensions.</summary>
    public (double Low, double High) CorrectionRange(int ropeDim, double freqBase)
    {
        double Dim(float beta) => ropeDim * Math.Log(OriginalContext / (beta * 2 * Math.PI)) / (2 * Math.Log(freqBase));
        return (Math.Max(0, Math.Floor(Dim(BetaFast))), Math.Min(ropeDim - 1, Math.Ceiling(Dim(BetaSlow))));
    }

    /// <summary>The factor on cos and sin: 1 + 0.1·ln(factor).</summary>
    public double Magnitude => 1 + 0.1 * Math.Log(Factor);
}

/// <summary>What differs from layer to layer: the attention window and the RoPE frequencies.</summary>
/// <param name="Window">Sliding window: a query at p sees keys k with p − k &lt; Window; 0 = full causal attention.</param>
/// <param name="Rope">RoPE frequencies of the layer.</param>
public sealed record LayerSpec(int Window, RopeConfig Rope);

/// <summary>Readable summaries of per-layer specs.</summary>
public static class LayerSpecSummary
{
    /// <summary>One line per distinct (window, RoPE) pair with the layers that have it, e.g.
    /// "window 4096, RoPE base 10000: layers 0, 2–5".</summary>
    public static IReadOnlyList<string> Describe(IReadOnlyList<LayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        return layers.Select((spec, i) => (spec, i)).GroupBy(x => x.spec).Select(g =>
        {
            LayerSpec spec = g.Key;
            string window = spec.Window == 0 ? "full attention" : $"window {spec.Window}";
            string rope = $"RoPE base {spec.Rope.Base.ToString("G", ci)}" + (spec.Rope.FreqScale != 1f ? $" × {spec.Rope.FreqScale.ToString("G", ci)}" : "")
                + (spec.Rope.Yarn is { } y ? $", YaRN ×{y.Factor.ToString("G", ci)} from {y.OriginalContext}" : "");
            int[] ids = g.Select(x => x.i).ToArray();
            string which = ids.Length == layers.Count ? "all layers" : (ids.Length == 1 ? "layer " : "layers ") + Ranges(ids);
            return $"{window}, {rope}: {which}";
        }).ToList();
    }

    private static string Ranges(int[] ids)
    {
        var parts = new List<string>();
        for (int i = 0; i < ids.Length;)
        {
            int j = i;
            while (j + 1 < ids.Length && ids[j + 1] == ids[j] + 1) j++;
            parts.Add(j == i ? ids[i].ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{ids[i]}–{ids[j]}");
            i = j + 1;
        }
        return string.Join(", ", parts);
    }
}

/// <summary>
/// The per-architecture differences of the transformer block, as data: one forward pass executes any description.
/// Filled from the file's keys by the architecture's row in <see cref="ArchitectureRegistry"/>.
/// </summary>
public sealed record BlockDescription
{
    /// <summary>Norm kind of every norm in the model (block, final, and Q/K norms).</summary>
    public NormKind Norm { get; init; } = NormKind.RmsNorm;
    /// <summary>Placement of the block norms.</summary>
    public NormPlacement Placement { get; init; } = NormPlacement.Pre;
    /// <summary>Sequential or parallel residual.</summary>
    public ResidualKind Residual { get; init; } = ResidualKind.Sequential;
    /// <summary>Feed-forward kind.</summary>
    public MlpKind Mlp { get; init; } = MlpKind.SwiGlu;
    /// <summary>How positions enter.</summary>
    public PositionKind Positions { get; init; } = PositionKind.Rope;
    /// <summary>Q/K normalisation before RoPE.</summary>
    public QkNormKind QkNorm { get; init; } = QkNormKind.None;
    /// <summary>Scores are soft-capped as cap · tanh(s / cap) before masking (0 = off; Gemma 2).</summary>
    public float AttnSoftCap { get; init; }
    /// <summary>Logits are soft-capped as cap · tanh(z / cap) (0 = off; Gemma 2).</summary>
    public float FinalSoftCap { get; init; }
    /// <summary>Factor of q·k (1/√head_size unless the architecture says otherwise).</summary>
    public required float QueryScale { get; init; }
    /// <summary>Factor of the token embedding (√n_embd for Gemma; 1 otherwise).</summary>
    public float EmbeddingScale { get; init; } = 1f;
    /// <summary>Q, K and V are clamped to ±this after their projections (0 = off; MPT's clamp_kqv).</summary>
    public float ClampQkv { get; init; }
    /// <summary>ALiBi's max bias (only with <see cref="PositionKind.Alibi"/>).</summary>
    public float AlibiMaxBias { get; init; }
    /// <summary>The feed-forward block is a mixture of experts (each of <see cref="Mlp"/> kind), or null (dense).</summary>
    public MoeSpec? Moe { get; init; }

    /// <summary>The norm before attention exists.</summary>
    public bool HasPreNorms => Placement != NormPlacement.Post;
    /// <summary>The norms after attention and MLP exist.</summary>
    public bool HasPostNorms => Placement != NormPlacement.Pre;
    /// <summary>The MLP has a gate projection.</summary>
    public bool Gated => Mlp != MlpKind.Gelu;
}

/// <summary>How llama.cpp's converter lays the tensors of an architecture out (what <c>synth</c> and <c>convert</c>
/// write; the loader accepts either form where llama.cpp does).</summary>
public sealed record TensorLayout
{
    /// <summary>Q, K and V as one <c>attn_qkv</c> tensor (rows Q|K|V).</summary>
    public bool FusedQkv { get; init; }
    /// <summary>Gate and up as one <c>ffn_up</c> of 2·ff rows, gate first (Phi-3).</summary>
    public bool FusedGateUp { get; init; }
    /// <summary>Q/K/V projections carry biases.</summary>
    public bool QkvBias { get; init; }
    /// <summary>The attention output projection carries a bias.</summary>
    public bool OutputBias { get; init; }
    /// <summary>The MLP projections carry biases.</summary>
    public bool MlpBias { get; init; }
    /// <summary>LayerNorms carry biases.</summary>
    public bool NormBias { get; init; }
    /// <summary>An <c>output.weight</c> is written (otherwise the embedding is tied).</summary>
    public bool Output { get; init; } = true;
    /// <summary>The pre-MLP norm's tensor name: <c>ffn_norm.weight</c>, or gpt-oss's <c>post_attention_norm.weight</c>
    /// (the norm after the attention's residual add, before the MoE).</summary>
    public string FfnNorm { get; init; } = GgufKeys.FfnNorm;
    /// <summary>Router and experts carry biases (gpt-oss).</summary>
    public bool ExpertBias { get; init; }
    /// <summary>Every attention layer has a learned sink logit per head (<c>attn_sinks</c>, gpt-oss).</summary>
    public bool AttnSinks { get; init; }
}
