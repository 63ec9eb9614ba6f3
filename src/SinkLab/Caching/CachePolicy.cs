using System.Globalization;

namespace SinkLab.Caching;

/// <summary>How a KV cache policy evicts.</summary>
public enum CacheKind
{
    /// <summary>Dense: every token stays; the cache errors when full.</summary>
    Full,
    /// <summary>The first <see cref="CachePolicy.Sinks"/> tokens stay, plus a rolling window of the last
    /// <see cref="CachePolicy.Window"/> (StreamingLLM); <c>window:W</c> is the case Sinks = 0.</summary>
    Sink,
    /// <summary>llama.cpp context shift: keep the first <see cref="CachePolicy.Sinks"/> tokens; when the cache is full,
    /// drop the older half of the rest and shift the remaining positions down.</summary>
    Shift,
    /// <summary>Re-encode the last <see cref="CachePolicy.Window"/> tokens from scratch for every new token
    /// (a baseline, run by <see cref="Evaluation.StreamEvaluator"/>; a session cannot hold it).</summary>
    Recompute,
    /// <summary>H2O (Zhang et al. 2023): S pinned first tokens, the H "heavy hitters" with the largest attention
    /// accumulated since they entered, and the R most recent tokens; per KV head.</summary>
    H2O,
    /// <summary>TOVA (Oren et al. 2024): when over budget, drop the token the current query attends to least, attention
    /// averaged over the layer's heads; per layer.</summary>
    Tova,
    /// <summary>SnapKV (Li et al. 2024) on a stream: the last w queries (the observation window) vote with their
    /// attention, smoothed by an average pool of width 7 over positions; the lowest-voted token outside the window
    /// goes; per KV head.</summary>
    SnapKv,
    /// <summary>PyramidKV (Cai et al. 2024): SnapKV's votes with per-layer budgets shrinking linearly with depth (mean
    /// budget W).</summary>
    Pyramid,
    /// <summary>KeyDiff (Park et al. 2025): drop the key most similar (cosine) to the mean cached key; no attention
    /// weights needed; per KV head.</summary>
    KeyDiff,
}

/// <summary>
/// A KV cache policy, written as on the command line: <c>full</c>, <c>window:W</c>, <c>sink:S+W</c>,
/// <c>shift:K</c> (with the session's context as capacity) or <c>recompute:W</c>. With
/// <see cref="OriginalPositions"/> the sink policy keeps every key at the position it had in the stream instead of
/// re-indexing positions inside the cache.
/// </summary>
public sealed record CachePolicy(CacheKind Kind, int Sinks = 0, int Window = 0, bool OriginalPositions = false, int Heavy = 0)
{
    /// <summary>True for the score- and key-based eviction policies (h2o, tova, snapkv, pyramid, keydiff): per-head or
    /// per-layer slot sets, kept tokens at their stream positions.</summary>
    public bool IsEviction => Kind is CacheKind.H2O or CacheKind.Tova or CacheKind.SnapKv or CacheKind.Pyramid or CacheKind.KeyDiff;

    /// <summary>Tokens an eviction policy keeps in each layer on average (S + H + R for h2o, S + W for the others).</summary>
    public int Budget => Sinks + Heavy + Window;

    /// <summary>PyramidKV's β: the top layer keeps W/β tokens beyond the sinks, the bottom one 2W − W/β, linearly in
    /// between (mean W; Cai et al. 2024, §3).</summary>
    public const int PyramidBeta = 20;

    /// <summary>Tokens layer <paramref name="layer"/> of <paramref name="layers"/> keeps: <see cref="Budget"/>, or for
    /// pyramid S + its share of the linear schedule (at least 1).</summary>
    public int LayerBudget(int layer, int layers)
    {
        if (Kind != CacheKind.Pyramid || layers <= 1) return Budget;
        double top = (double)Window / PyramidBeta, bottom = 2.0 * Window - top;
        double w = bottom + (top - bottom) * layer / (layers - 1);
        return Sinks + Math.Max(1, (int)Math.Round(w));
    }

    /// <summary>The largest per-layer budget (the cache's capacity per layer, less the token being processed).</summary>
    public int MaxLayerBudget(int layers) => Enumerable.Range(0, Math.Max(1, layers)).Max(l => LayerBudget(l, layers));

    /// <summary>True when the policy needs the attention weights of each step (all eviction policies but keydiff).</summary>
    public bool NeedsAttentionWeights => IsEviction && Kind != CacheKind.KeyDiff;

    /// <summary>The dense cache.</summary>
    public static CachePolicy Full { get; } = new(CacheKind.Full);

    /// <summary>StreamingLLM: <paramref name="sinks"/> first tokens plus the last <paramref name="window"/>.</summary>
    public static CachePolicy Sink(int sinks, int window, bool originalPositions = false) => new(CacheKind.Sink, sinks, window, originalPositions);

    /// <summary>True when a session can hold this policy (everything but recompute).</summary>
    public bool IsCache => Kind != CacheKind.Recompute;

    /// <summary>Parses <c>full</c>, <c>window:W</c>, <c>sink:S+W</c>, <c>shift:K</c>, <c>recompute:W</c>; a suffix
    /// <c>@original</c> (e.g. <c>sink:4+252@original</c>) keeps stream positions.</summary>
    /// <exception cref="ArgumentException">Unknown policy or a size out of range, naming the text.</exception>
    public static CachePolicy Parse(string text, bool originalPositions = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t.EndsWith("@original", StringComparison.Ordinal))
        {
            t = t[..^"@original".Length];
            originalPositions = true;
        }
        int colon = t.IndexOf(':');
        string name = colon < 0 ? t : t[..colon], arg = colon < 0 ? "" : t[(colon + 1)..];
        int Int(string s, string what, int min)
        {
            if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                throw new ArgumentException($"cache policy '{text}': {what} must be a whole number (got '{s}')");
            if (v < min) throw new ArgumentException($"cache policy '{text}': {what} must be ≥ {min} (got {v})");
            return v;
        }
        CachePolicy p = name switch
        {
            "full" when arg.Length == 0 => Full,
            "window" => new CachePolicy(CacheKind.Sink, 0, Int(arg, "the window W", 1)),
            "sink" => arg.Split('+') is [string s, string w]
                ? new CachePolicy(CacheKind.Sink, Int(s, "the sink count S", 0), Int(w, "the window W", 1))
                : throw new ArgumentException($"cache policy '{text}': expected sink:S+W, e.g. sink:4+252"),
            "shift" => new CachePolicy(CacheKind.Shift, Int(arg, "the kept prefix K", 0)),
            "recompute" => new CachePolicy(CacheKind.Recompute, 0, Int(arg, "the window W", 1)),
            "h2o" => arg.Split('+') is [string s, string h, string r]
                ? new CachePolicy(CacheKind.H2O, Int(s, "the sink count S", 0), Int(r, "the recent window R", 1), Heavy: Int(h, "the heavy hitters H", 0))
                : throw new ArgumentException($"cache policy '{text}': expected h2o:S+H+R, e.g. h2o:4+62+62"),
            "tova" or "snapkv" or "pyramid" or "keydiff" => Evicting(name switch
            {
                "tova" => CacheKind.Tova,
                "snapkv" => CacheKind.SnapKv,
                "pyramid" => CacheKind.Pyramid,
                _ => CacheKind.KeyDiff,
            }),
            _ => throw new ArgumentException($"cache policy '{text}': unknown (known: full, window:W, sink:S+W, shift:K, recompute:W, h2o:S+H+R, tova:S+W, snapkv:S+W, pyramid:S+W, keydiff:S+W)"),
        };
        CachePolicy Evicting(CacheKind kind) => arg.Split('+') switch
        {
            [string w] => new CachePolicy(kind, 0, Int(w, "the budget W", 1)),
            [string s, string w] => new CachePolicy(kind, Int(s, "the sink count S", 0), Int(w, "the budget W", 1)),
            _ => throw new ArgumentException($"cache policy '{text}': expected {name}:S+W (S pinned first tokens, W more), e.g. {name}:4+124"),
        };

        if (originalPositions && p.Kind != CacheKind.Sink && !p.IsEviction)
            throw new ArgumentException($"cache policy '{text}': original positions apply to window:W, sink:S+W and the eviction policies only");
        return p with { OriginalPositions = originalPositions };
    }

    /// <summary>The policy as written on the command line (original positions marked with <c>@original</c>).</summary>
    public override string ToString() => Kind switch
    {
        CacheKind.Full => "full",
        CacheKind.Sink when Sinks == 0 => $"window:{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.Sink => $"sink:{Sinks}+{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.Shift => $"shift:{Sinks}",
        CacheKind.H2O => $"h2o:{Sinks}+{Heavy}+{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.Tova => $"tova:{Sinks}+{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.SnapKv => $"snapkv:{Sinks}+{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.Pyramid => $"pyramid:{Sinks}+{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.KeyDiff => $"keydiff:{Sinks}+{Window}" + (OriginalPositions ? "@original" : ""),
        _ => $"recompute:{Window}",
    };
}
