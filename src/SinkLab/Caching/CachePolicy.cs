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
}

/// <summary>
/// A KV cache policy, written as on the command line: <c>full</c>, <c>window:W</c>, <c>sink:S+W</c>,
/// <c>shift:K</c> (with the session's context as capacity) or <c>recompute:W</c>. With
/// <see cref="OriginalPositions"/> the sink policy keeps every key at the position it had in the stream instead of
/// re-indexing positions inside the cache.
/// </summary>
public sealed record CachePolicy(CacheKind Kind, int Sinks = 0, int Window = 0, bool OriginalPositions = false)
{
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
            _ => throw new ArgumentException($"cache policy '{text}': unknown (known: full, window:W, sink:S+W, shift:K, recompute:W)"),
        };
        if (originalPositions && p.Kind != CacheKind.Sink)
            throw new ArgumentException($"cache policy '{text}': original positions apply to window:W and sink:S+W only");
        return p with { OriginalPositions = originalPositions };
    }

    /// <summary>The policy as written on the command line (original positions marked with <c>@original</c>).</summary>
    public override string ToString() => Kind switch
    {
        CacheKind.Full => "full",
        CacheKind.Sink when Sinks == 0 => $"window:{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.Sink => $"sink:{Sinks}+{Window}" + (OriginalPositions ? "@original" : ""),
        CacheKind.Shift => $"shift:{Sinks}",
        _ => $"recompute:{Window}",
    };
}
