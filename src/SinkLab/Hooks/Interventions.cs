using SinkLab.Tokenization;

namespace SinkLab.Hooks;

/// <summary>Ready-made interventions: hooks that rewrite intermediates, and edits of the token sequence.</summary>
public static class Interventions
{
    /// <summary>In each given layer (all when null) and head (all when null), removes key <paramref name="key"/> from
    /// every query's attention by setting its score (hook_scores) to −∞, so the model's own normalisation decides
    /// what the rest gets: softmax renormalises over the remaining keys, softmax1 and sink logits keep their extra
    /// logit's share, sigmoid just drops the weight. A softmax row left with no key (the first query when key 0 is
    /// masked) becomes all zero.</summary>
    public static HookSet MaskKey(this HookSet set, int key, int layers, IReadOnlyCollection<int>? onlyLayers = null, IReadOnlyCollection<int>? onlyHeads = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentOutOfRangeException.ThrowIfNegative(key);
        for (int l = 0; l < layers; l++)
        {
            if (onlyLayers != null && !onlyLayers.Contains(l)) continue;
            set.Add(HookPoint.Scores, l, (in HookEvent e) =>
            {
                int heads = e.Shape[0], queries = e.Shape[1], keys = e.Shape[2];
                if (key >= keys) return;
                for (int h = 0; h < heads; h++)
                {
                    if (onlyHeads != null && !onlyHeads.Contains(h)) continue;
                    for (int q = 0; q < queries; q++) e.Data[(h * queries + q) * keys + key] = float.NegativeInfinity;
                }
            });
        }
        return set;
    }

    /// <summary>Zeroes the output (hook_z) of one head in one layer.</summary>
    public static HookSet ZeroHead(this HookSet set, int layer, int head)
    {
        ArgumentNullException.ThrowIfNull(set);
        return set.Add(HookPoint.Z, layer, (in HookEvent e) =>
        {
            int n = e.Shape[0], heads = e.Shape[1], hd = e.Shape[2];
            if ((uint)head >= (uint)heads) throw new ArgumentOutOfRangeException(nameof(head), head, $"the model has {heads} heads");
            for (int t = 0; t < n; t++) e.Data.Slice((t * heads + head) * hd, hd).Clear();
        });
    }

    /// <summary>Multiplies a whole intermediate by <paramref name="factor"/>.</summary>
    public static HookSet Scale(this HookSet set, HookPoint point, int layer, float factor)
    {
        ArgumentNullException.ThrowIfNull(set);
        return set.Add(point, layer, (in HookEvent e) => { foreach (ref float v in e.Data) v *= factor; });
    }

    /// <summary>Adds <paramref name="delta"/> to the input embedding of the token at cache position
    /// <paramref name="position"/>.</summary>
    public static HookSet PerturbEmbedding(this HookSet set, int position, float[] delta)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(delta);
        return set.Add(HookPoint.Embed, 0, (in HookEvent e) =>
        {
            int t = position - e.FirstPosition, dim = e.Shape[1];
            if (t < 0 || t >= e.Shape[0]) return;
            if (delta.Length != dim) throw new ArgumentException($"delta has {delta.Length} values; the model width is {dim}", nameof(delta));
            Span<float> row = e.Data.Slice(t * dim, dim);
            for (int i = 0; i < dim; i++) row[i] += delta[i];
        });
    }

    /// <summary>The sequence without its first token.</summary>
    public static int[] DropFirst(ReadOnlySpan<int> ids) => ids.Length == 0 ? [] : ids[1..].ToArray();

    /// <summary>The sequence with its first token replaced by <paramref name="token"/>.</summary>
    public static int[] ReplaceFirst(ReadOnlySpan<int> ids, int token)
    {
        int[] copy = ids.ToArray();
        if (copy.Length > 0) copy[0] = token;
        return copy;
    }

    /// <summary>The id a lone "\n" encodes to (the byte token in SentencePiece vocabularies).</summary>
    public static int NewlineToken(ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int[] ids = tokenizer.Encode("\n", addSpecial: false);
        return ids.Length > 0 ? ids[^1] : throw new ArgumentException("the tokenizer encodes \"\\n\" to nothing", nameof(tokenizer));
    }
}
