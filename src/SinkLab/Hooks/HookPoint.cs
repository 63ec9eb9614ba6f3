using System.Globalization;

namespace SinkLab.Hooks;

/// <summary>
/// The named intermediates of the forward pass, in the order they occur (TransformerLens names). Shapes (no batch
/// axis; n = tokens in the step, keys = cached positions including these):
/// embed, resid_pre/mid/post, attn_out [n, dim]; q, z [n, heads, head_dim]; k (after RoPE), v [n, kv_heads, head_dim];
/// scores (pre-softmax, scaled, causal entries −∞) and pattern [heads, n, keys]; mlp post [n, hidden];
/// ln_final [rows, dim]; logits [rows, vocab], rows = tokens whose logits are computed.
/// </summary>
public enum HookPoint
{
    /// <summary><c>hook_embed</c></summary>
    Embed,
    /// <summary><c>blocks.{l}.hook_resid_pre</c></summary>
    ResidPre,
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
    /// <summary><c>blocks.{l}.hook_attn_out</c></summary>
    AttnOut,
    /// <summary><c>blocks.{l}.hook_resid_mid</c></summary>
    ResidMid,
    /// <summary><c>blocks.{l}.mlp.hook_post</c> (SwiGLU output)</summary>
    MlpPost,
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
    public static bool IsPerLayer(HookPoint p) => p is not (HookPoint.Embed or HookPoint.LnFinal or HookPoint.Logits);

    /// <summary>The name of a point (layer ignored for model-level points).</summary>
    public static string Name(HookPoint point, int layer = 0)
    {
        string l = layer.ToString(CultureInfo.InvariantCulture);
        return point switch
        {
            HookPoint.Embed => "hook_embed",
            HookPoint.ResidPre => $"blocks.{l}.hook_resid_pre",
            HookPoint.Q => $"blocks.{l}.attn.hook_q",
            HookPoint.K => $"blocks.{l}.attn.hook_k",
            HookPoint.V => $"blocks.{l}.attn.hook_v",
            HookPoint.Scores => $"blocks.{l}.attn.hook_scores",
            HookPoint.Pattern => $"blocks.{l}.attn.hook_pattern",
            HookPoint.Z => $"blocks.{l}.attn.hook_z",
            HookPoint.AttnOut => $"blocks.{l}.hook_attn_out",
            HookPoint.ResidMid => $"blocks.{l}.hook_resid_mid",
            HookPoint.MlpPost => $"blocks.{l}.mlp.hook_post",
            HookPoint.ResidPost => $"blocks.{l}.hook_resid_post",
            HookPoint.LnFinal => "ln_final.hook_normalized",
            HookPoint.Logits => "hook_logits",
            _ => throw new ArgumentOutOfRangeException(nameof(point)),
        };
    }

    /// <summary>Every name a model with <paramref name="layers"/> blocks emits, in forward order.</summary>
    public static IReadOnlyList<string> All(int layers)
    {
        var names = new List<string> { Name(HookPoint.Embed) };
        for (int l = 0; l < layers; l++)
            for (var p = HookPoint.ResidPre; p <= HookPoint.ResidPost; p++) names.Add(Name(p, l));
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
