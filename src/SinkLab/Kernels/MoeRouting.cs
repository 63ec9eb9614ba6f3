using SinkLab.Models;

namespace SinkLab.Kernels;

/// <summary>The arithmetic of a mixture-of-experts block that is not a matrix product: which experts a token takes,
/// their weights, and gpt-oss's clamped SwiGLU.</summary>
public static class MoeRouting
{
    /// <summary>gpt-oss's activation constants (ggml's <c>swiglu_oai</c> as llama.cpp calls it).</summary>
    public const float OaiAlpha = 1.702f, OaiLimit = 7f;

    /// <summary>The <c>chosen.Length</c> largest logits' indices, largest first (ties: the lower index first, as a
    /// stable descending sort gives them).</summary>
    public static void TopK(ReadOnlySpan<float> logits, Span<int> chosen)
    {
        int k = chosen.Length;
        if (k > logits.Length) throw new ArgumentException($"top-{k} of {logits.Length} experts", nameof(chosen));
        int have = 0;
        for (int e = 0; e < logits.Length; e++)
        {
            float v = logits[e];
            if (have == k && !(v > logits[chosen[k - 1]])) continue;
            int at = have < k ? have++ : k - 1;
            while (at > 0 && v > logits[chosen[at - 1]]) { chosen[at] = chosen[at - 1]; at--; }
            chosen[at] = e;
        }
    }

    /// <summary>The weights of the chosen experts under <paramref name="gating"/>, divided by their sum when
    /// <paramref name="normalize"/>, then multiplied by <paramref name="scale"/> (llama.cpp's order).</summary>
    public static void Weights(ReadOnlySpan<float> logits, ReadOnlySpan<int> chosen, ExpertGating gating, Span<float> weights,
        bool normalize = false, float scale = 1f)
    {
        float sum = 0;
        switch (gating)
        {
            case ExpertGating.SoftmaxOfSelected:
            {
                float max = float.NegativeInfinity;
                foreach (int e in chosen) max = MathF.Max(max, logits[e]);
                for (int j = 0; j < chosen.Length; j++) sum += weights[j] = MathF.Exp(logits[chosen[j]] - max);
                for (int j = 0; j < chosen.Length; j++) weights[j] /= sum;
                break;
            }
            case ExpertGating.Softmax:
            {
                float max = float.NegativeInfinity, all = 0;
                foreach (float v in logits) max = MathF.Max(max, v);
                foreach (float v in logits) all += MathF.Exp(v - max);
                for (int j = 0; j < chosen.Length; j++) weights[j] = MathF.Exp(logits[chosen[j]] - max) / all;
                break;
            }
            case ExpertGating.Sigmoid:
                for (int j = 0; j < chosen.Length; j++) weights[j] = 1f / (1f + MathF.Exp(-logits[chosen[j]]));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(gating), gating, "unknown expert gating");
        }
        if (normalize)
        {
            sum = 0;
            foreach (float w in weights[..chosen.Length]) sum += w;
            for (int j = 0; j < chosen.Length; j++) weights[j] /= sum;
        }
        if (scale != 1f) for (int j = 0; j < chosen.Length; j++) weights[j] *= scale;
    }

    /// <summary>gate ← min(g, 7) · σ(1.702 · min(g, 7)) · (clamp(up, −7, 7) + 1), element-wise.</summary>
    public static void SwiGluOai(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float x = MathF.Min(gate[i], OaiLimit), y = Math.Clamp(up[i], -OaiLimit, OaiLimit);
            gate[i] = x / (1f + MathF.Exp(-OaiAlpha * x)) * (y + 1f);
        }
    }
}
