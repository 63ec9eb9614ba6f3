using System.Globalization;

namespace SinkLab.Hooks;

/// <summary>
/// The named intermediates of the forward pass, in the order they occur (TransformerLens names). Shapes (no batch
/// axis; n = tokens in the step, keys = cached positions including these):
/// embed, pos_embed, resid_pre/mid/post, ln1/ln2 normalized, attn_out, mlp_out [n, dim]; q, z [n, heads, head_dim];
/// k (after RoPE), v [n, kv_heads, head_dim]; scores (pre-softmax, scaled, soft-capped and ALiBi-biased; entries the
/// query does not see −∞) and pattern [heads, n, keys]; mlp post [n, hidden]; ln_final [rows, dim]; logits
/// [rows, vocab], rows = tokens whose logits are computed; router [n, experts] (mixture-of-experts models, which have
/// no single mlp hook_post). Which points a model emits depends on its architecture
/// (<see cref="HookNames.For"/>).
/// </summary>
public enum HookPoint
{
    /// <summary><c>hook_embed</c> (token embedding, times the architecture's embedding scale)</summary>
    Embed,
    /// <summary><c>hook_pos_embed</c> (learned absolute position embedding rows; models with learned positions)</summary>
    PosEmbed,
    /// <summary><c>blocks.{l}.hook_resid_pre</c></summary>
    ResidPre,
    /// <summary><c>blocks.{l}.ln1.hook_normalized</c> (attention input; models with pre-norms)</summary>
    Ln1,
    /// <summary><c>blocks.{l}.attn.hook_q</c></summary>
    Q,
    /// <summary><c>blocks.{l}.attn.hook_k</c> (after RoPE)</summary>
    K,
    /// <summary><c>blocks.{l}.attn.hook_v</c></summary>
    V,
    /// <summary><c>blocks.{l}.attn.hook_scores</c> (pre-softmax)</summary>
    Scores,
    /// <summary><c>blocks.{l}.attn.hook_pattern</c> (probabilities)</summary>
    Pattern,
    /// <summary><c>blocks.{l}.attn.hook_z</c> (per-head output before the output projection)</summary>
    Z,
    /// <summary><c>blocks.{l}.hook_attn_out</c> (what attention adds to the residual stream, after any post-norm)</summary>
    AttnOut,
    /// <summary><c>blocks.{l}.hook_resid_mid</c> (sequential-residual models)</summary>
    ResidMid,
    /// <summary><c>blocks.{l}.ln2.hook_normalized</c> (MLP input; models with an MLP pre-norm)</summary>
    Ln2,
    /// <summary><c>blocks.{l}.mlp.hook_router</c> (mixture-of-experts models: the router's logits over the experts,
    /// [n, experts], bias included, before top-k)</summary>
    Router,
    /// <summary><c>blocks.{l}.mlp.hook_post</c> (the hidden activation: SwiGLU/GeGLU product or GELU output; dense MLPs)</summary>
    MlpPost,
    /// <summary><c>blocks.{l}.hook_mlp_out</c> (what the MLP adds to the residual stream, after any post-norm)</summary>
    MlpOut,
    /// <summary><c>blocks.{l}.hook_resid_post</c></summary>
    ResidPost,
    /// <summary><c>ln_final.hook_normalized</c></summary>
    LnFinal,
    /// <summary><c>hook_logits</c></summary>
    Logits,
}

/// <summary>Names of hook points, as public contract.</summary>
public static class HookNames
{
    /// <summary>True for points that exist once per block.</summary>
    public static bool IsPerLayer(HookPoint p) => p is not (HookPoint.Embed or HookPoint.PosEmbed or HookPoint.LnFinal or HookPoint.Logits);

    /// <summary>The name of a point (layer ignored for model-level points).</summary>
    public static string Name(HookPoint point, int layer = 0)
    {
        string l = layer.ToString(CultureInfo.InvariantCulture);
        return point switch
        {
            HookPoint.Embed => "hook_embed",
            HookPoint.PosEmbed => "hook_pos_embed",
            HookPoint.ResidPre => $"blocks.{l}.hook_resid_pre",
            HookPoint.Ln1 => $"blocks.{l}.ln1.hook_normalized",
            HookPoint.Q => $"blocks.{l}.attn.hook_q",
            HookPoint.K => $"blocks.{l}.attn.hook_k",
            HookPoint.V => $"blocks.{l}.attn.hook_v",
            HookPoint.Scores => $"blocks.{l}.attn.hook_scores",
            HookPoint.Pattern => $"blocks.{l}.attn.hook_pattern",
            HookPoint.Z => $"blocks.{l}.attn.hook_z",
            HookPoint.AttnOut => $"blocks.{l}.hook_attn_out",
            HookPoint.ResidMid => $"blocks.{l}.hook_resid_mid",
            HookPoint.Ln2 => $"blocks.{l}.ln2.hook_normalized",
            HookPoint.Router => $"blocks.{l}.mlp.hook_router",
            HookPoint.MlpPost => $"blocks.{l}.mlp.hook_post",
            HookPoint.MlpOut => $"blocks.{l}.hook_mlp_out",
            HookPoint.ResidPost => $"blocks.{l}.hook_resid_post",
            HookPoint.LnFinal => "ln_final.hook_normalized",
            HookPoint.Logits => "hook_logits",
            _ => throw new ArgumentOutOfRangeException(nameof(point)),
        };
    }

    /// <summary>Every name a model of configuration <paramref name="config"/> emits, in forward order: hook_pos_embed
    /// only with learned positions, ln1/ln2 only where the block has those pre-norms, hook_resid_mid only with a
    /// sequential residual (as TransformerLens does for parallel blocks).</summary>
    public static IReadOnlyList<string> For(Models.ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Models.BlockDescription b = config.Block;
        var names = new List<string> { Name(HookPoint.Embed) };
        if (b.Positions == Models.PositionKind.Learned) names.Add(Name(HookPoint.PosEmbed));
        for (int l = 0; l < config.Layers; l++)
            for (var p = HookPoint.ResidPre; p <= HookPoint.ResidPost; p++)
            {
                bool emitted = p switch
                {
                    HookPoint.Ln1 => b.HasPreNorms,
                    HookPoint.ResidMid => b.Residual == Models.ResidualKind.Sequential,
                    HookPoint.Ln2 => b.HasPreNorms && b.Residual != Models.ResidualKind.ParallelSharedNorm,
                    HookPoint.Router => b.Moe != null,
                    HookPoint.MlpPost => b.Moe == null,
                    _ => true,
                };
                if (emitted) names.Add(Name(p, l));
            }
        names.Add(Name(HookPoint.LnFinal));
        names.Add(Name(HookPoint.Logits));
        return names;
    }

    /// <summary>Parses a name back to (point, layer).</summary>
    /// <exception cref="ArgumentException">Not a hook name.</exception>
    public static (HookPoint Point, int Layer) Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (HookPoint p in Enum.GetValues<HookPoint>())
        {
            if (!IsPerLayer(p)) { if (name == Name(p)) return (p, 0); continue; }
            string suffix = Name(p, 0)["blocks.0".Length..];
            if (name.StartsWith("blocks.", StringComparison.Ordinal) && name.EndsWith(suffix, StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(7, name.Length - 7 - suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
                return (p, layer);
        }
        throw new ArgumentException($"'{name}' is not a hook name", nameof(name));
    }
}
