using SinkLab.Caching;
using SinkLab.Hooks;
using SinkLab.Kernels;

namespace SinkLab.Inference;

public sealed unsafe partial class InferenceSession
{
    private readonly List<HookSet> _hookSets = [];
    private float[] _patternBuffer = [];
    private int _stepStart;   // cache position of the first token of the running step

    /// <summary>Attaches hooks until the returned scope is disposed (<c>using var _ = session.Hooks(set);</c>).
    /// Several sets may be attached; they fire in the order attached.</summary>
    public IDisposable Hooks(HookSet hooks)
    {
        ArgumentNullException.ThrowIfNull(hooks);
        _hookSets.Add(hooks);
        return new HookScope(this, hooks);
    }

    private sealed class HookScope(InferenceSession session, HookSet set) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            session._hookSets.Remove(set);
        }
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> from an empty cache as one batch and returns copies of the intermediates whose
    /// names pass <paramref name="filter"/> (all when null), after any attached hooks have acted, plus all logits.
    /// </summary>
    /// <exception cref="ArgumentException">More tokens than one batch holds.</exception>
    public ActivationCache RunWithCache(ReadOnlySpan<int> tokens, Func<string, bool>? filter = null)
    {
        if (tokens.Length > _batch)
            throw new ArgumentException($"RunWithCache takes at most one batch ({_batch} tokens); got {tokens.Length}", nameof(tokens));
        var cache = new ActivationCache();
        var capture = new HookSet();
        foreach (string name in HookNames.For(_c))
            if (filter == null || filter(name)) capture.Add(name, (in HookEvent e) => cache.Add(in e));
        using (Hooks(capture))
        {
            Reset();
            var logits = new float[tokens.Length * _c.VocabSize];
            Evaluate(tokens, logits);
            cache.Logits = logits;
        }
        return cache;
    }

    private bool HookActive(HookPoint p, int layer)
    {
        foreach (HookSet s in _hookSets) if (s.Has(p, layer)) return true;
        return false;
    }

    /// <summary>Fires the hooks of (p, layer) on a [d0, d1(, d2)] tensor.</summary>
    private void Fire(HookPoint p, int layer, Span<float> data, int d0, int d1, int d2 = 0)
    {
        if (_hookSets.Count == 0 || !HookActive(p, layer)) return;
        Span<int> shape = stackalloc int[3];
        shape[0] = d0; shape[1] = d1; shape[2] = d2;
        string name = HookNames.Name(p, layer);
        int size = d0 * d1 * (d2 == 0 ? 1 : d2);
        foreach (HookSet s in _hookSets.ToArray())
            s.Fire(p, layer, name, shape[..(d2 == 0 ? 2 : 3)], data[..size], _stepStart);
    }

    /// <summary>Attention with every score row materialised, so that hook_scores and hook_pattern can read and
    /// rewrite them: row [head, query] holds a score for every cached position, −∞ where the query does not see the key
    /// (the future, and keys outside the layer's window). Used only for layers with such hooks, on a dense cache.</summary>
    private void AttentionMaterialized(int layer, long layerBase, int view, int n, int pos0)
    {
        if (Cache.Kind != CacheKind.Full)
            throw new InvalidOperationException($"hook_scores / hook_pattern need the full (dense) cache; this session uses {Cache}");
        int heads = _c.Heads, hd = _c.HeadDim, qDim = _c.QDim, keys = pos0 + n, group = _c.GroupSize;
        long size = (long)heads * n * keys;
        if (_patternBuffer.Length < size) _patternBuffer = GC.AllocateArray<float>(checked((int)size), pinned: true);
        Span<float> buf = _patternBuffer.AsSpan(0, (int)size);
        float scale = _b.QueryScale;
        fixed (float* kc = _keyCache, vc = _valueCache, qb = _q, ob = _att, pb = _patternBuffer)
        {
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++)
                {
                    KeyRange r = _ranges[view * _batch + t];   // dense cache: no pinned slots, slot = position
                    Span<float> row = buf.Slice((h * n + t) * keys, keys);
                    long headBase = layerBase + (long)(h / group) * hd * _kvStride;
                    int seen = r.Ring - r.RingSkip;
                    HeadOps.Scores(qb + t * qDim + h * hd, kc + headBase + r.RingSkip, _kvStride, hd, seen, scale, pb + ((long)h * n + t) * keys + r.RingSkip);
                    if (_shapesScores) ShapeScores(row.Slice(r.RingSkip, seen), h, r.Ring - 1 - r.RingSkip);
                    row[..r.RingSkip].Fill(float.NegativeInfinity);
                    row[r.Ring..].Fill(float.NegativeInfinity);
                }
            Fire(HookPoint.Scores, layer, buf, heads, n, keys);
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++)
                {
                    Span<float> row = buf.Slice((h * n + t) * keys, keys);
                    int len = pos0 + t + 1;
                    Normalize(row[..len], h);
                    row[len..].Clear();
                }
            Fire(HookPoint.Pattern, layer, buf, heads, n, keys);
            for (int h = 0; h < heads; h++)
                for (int t = 0; t < n; t++)
                {
                    long headBase = layerBase + (long)(h / group) * hd * _kvStride;
                    HeadOps.WeightedSum(pb + ((long)h * n + t) * keys, vc + headBase, hd, pos0 + t + 1, ob + t * qDim + h * hd);
                }
        }
    }
}
