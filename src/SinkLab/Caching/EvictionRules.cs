namespace SinkLab.Caching;

/// <summary>
/// The rule of each eviction policy as a pure function over one head's (or layer's) live slots: which slot goes
/// (docs/metrics.md, "KV eviction policies"). Slots are unordered (a cache removes by moving its last slot into the
/// victim's place); <c>pos</c> gives each slot's stream position. Pinned first tokens (position &lt; sinks) never go; ties go
/// to the oldest position. Returns −1 when nothing may be evicted.
/// </summary>
public static class EvictionRules
{
    /// <summary>SnapKV's pooling width (its code's default kernel_size).</summary>
    public const int PoolKernel = 7;

    /// <summary>H2O: the lowest accumulated attention among tokens that are neither pinned nor among the
    /// <paramref name="recent"/> newest (position &gt; newest − recent).</summary>
    public static int H2O(ReadOnlySpan<long> pos, ReadOnlySpan<float> accumulated, int sinks, long newest, int recent) =>
        Lowest(pos, accumulated, sinks, newest - recent + 1);

    /// <summary>The lowest score among tokens at positions in [sinks, protectFrom) (TOVA: protectFrom = ∞, every
    /// unpinned token including the newest; SnapKV: the observation window is protected).</summary>
    public static int Lowest(ReadOnlySpan<long> pos, ReadOnlySpan<float> score, int sinks, long protectFrom)
    {
        int victim = -1;
        for (int i = 0; i < pos.Length; i++)
        {
            if (pos[i] < sinks || pos[i] >= protectFrom) continue;
            if (victim < 0 || score[i] < score[victim] || (score[i] == score[victim] && pos[i] < pos[victim])) victim = i;
        }
        return victim;
    }

    /// <summary>SnapKV's smoothing: votes averaged over a window of <see cref="PoolKernel"/> neighbours in position order,
    /// zero-padded at both ends and divided by the full width (PyTorch's avg_pool1d, padding 3, count_include_pad).</summary>
    public static void Pool(ReadOnlySpan<long> pos, ReadOnlySpan<float> votes, Span<float> pooled, Span<int> order, Span<long> keys)
    {
        int n = pos.Length;
        for (int i = 0; i < n; i++) order[i] = i;
        pos.CopyTo(keys);
        keys[..n].Sort(order[..n]);   // slots in position order (positions are distinct)
        Pool(order[..n], votes, pooled);
    }

    /// <summary><see cref="Pool(ReadOnlySpan{long}, ReadOnlySpan{float}, Span{float}, Span{int}, Span{long})"/> with the
    /// slots already in position order (<paramref name="byPosition"/>[r] = the slot of rank r).</summary>
    public static void Pool(ReadOnlySpan<int> byPosition, ReadOnlySpan<float> votes, Span<float> pooled)
    {
        int n = byPosition.Length, half = PoolKernel / 2;
        for (int r = 0; r < n; r++)
        {
            float sum = 0;
            for (int k = Math.Max(0, r - half); k <= Math.Min(n - 1, r + half); k++) sum += votes[byPosition[k]];
            pooled[byPosition[r]] = sum / PoolKernel;
        }
    }

    /// <summary>KeyDiff: the unpinned key with the largest cosine similarity to the mean of all live keys. Keys are read
    /// transposed (<paramref name="keysT"/>[d·stride + slot]), as the cache stores them.</summary>
    public static int KeyDiff(ReadOnlySpan<float> keysT, int stride, int dim, ReadOnlySpan<long> pos, int sinks, Span<float> mean)
    {
        int n = pos.Length;
        if (n == 0) return -1;
        for (int d = 0; d < dim; d++)
        {
            float s = 0;
            for (int i = 0; i < n; i++) s += keysT[d * stride + i];
            mean[d] = s / n;
        }
        int victim = -1;
        double best = double.NegativeInfinity;
        for (int i = 0; i < n; i++)
        {
            if (pos[i] < sinks) continue;
            double dot = 0, kk = 0;
            for (int d = 0; d < dim; d++)
            {
                double k = keysT[d * stride + i];
                dot += k * mean[d];
                kk += k * k;
            }
            double cos = kk > 0 ? dot / Math.Sqrt(kk) : double.NegativeInfinity;   // |mean| is common to all: left out
            if (cos > best || (cos == best && victim >= 0 && pos[i] < pos[victim])) { best = cos; victim = i; }
        }
        return victim;
    }
}
