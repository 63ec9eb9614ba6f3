using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.Streaming;

/// <summary>The eviction policies: each rule on hand-made inputs, the cache against a list-based reference written
/// from each paper's rule, and the engine against full and window caches where they must agree.</summary>
public class EvictionTests
{
    [Fact]
    public void H2OEvictsTheLowestAccumulatedAmongUnprotected()
    {
        long[] pos = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        float[] acc = [0.01f, 0.5f, 0.2f, 0.9f, 0.05f, 0.3f, 0.4f, 0.0f, 0.0f, 0.0f];
        // sinks 1 protects position 0; recent 3 protects 7, 8, 9: the lowest of 1..6 is position 4.
        Assert.Equal(4, EvictionRules.H2O(pos, acc, sinks: 1, newest: 9, recent: 3));
        Assert.Equal(-1, EvictionRules.H2O(pos[..3], acc[..3], sinks: 1, newest: 2, recent: 2));   // nothing unprotected
    }

    [Fact]
    public void LowestBreaksTiesTowardsTheOldestAndTovaMayDropTheNewest()
    {
        long[] pos = [5, 2, 9, 7];
        Assert.Equal(1, EvictionRules.Lowest(pos, [0.1f, 0.1f, 0.3f, 0.2f], 0, long.MaxValue));
        Assert.Equal(2, EvictionRules.Lowest(pos, [0.4f, 0.5f, 0.01f, 0.2f], 0, long.MaxValue));   // the newest token itself
        Assert.Equal(3, EvictionRules.Lowest(pos, [0.4f, 0.5f, 0.01f, 0.2f], 0, 9));                // window protects 9
    }

    [Fact]
    public void PoolingAveragesSevenNeighboursInPositionOrderWithZeroPadding()
    {
        long[] pos = [3, 0, 2, 1, 4];            // slots out of order
        float[] votes = [4, 7, 1, 0, 2];         // by position: 0→7, 1→0, 2→1, 3→4, 4→2
        var pooled = new float[5];
        EvictionRules.Pool(pos, votes, pooled, new int[5], new long[5]);
        // position p: sum over positions p−3..p+3 that exist, / 7
        float[] byPos = [7, 0, 1, 4, 2];
        for (int s = 0; s < 5; s++)
        {
            long p = pos[s];
            float sum = 0;
            for (long q = Math.Max(0, p - 3); q <= Math.Min(4, p + 3); q++) sum += byPos[q];
            Assert.Equal(sum / 7, pooled[s], 6);
        }
    }

    [Fact]
    public void KeyDiffEvictsTheKeyMostAlignedWithTheMeanAndNeverAPinnedOne()
    {
        // dim 2, 4 keys (transposed: row d holds every key's coordinate d), stride 4.
        // keys: (1,0) pinned, (0,1), (1,1), (−1,0.2); mean = (0.25, 0.55): cosines 0.41 (pinned), 0.91, 0.93, −0.24.
        float[] keysT = [1, 0, 1, -1, 0, 1, 1, 0.2f];
        Assert.Equal(2, EvictionRules.KeyDiff(keysT, 4, 2, [0, 1, 2, 3], sinks: 1, new float[2]));
    }

    /// <summary>A deterministic "attention weight" of the query at position q on the key at position k.</summary>
    private static float Weight(long q, long k, int head) => ((q * 7919 + k * 104729 + head * 31) % 1009) / 1009f + (k == 0 ? 0.5f : 0);

    [Theory]
    [InlineData("h2o:2+5+3")]
    [InlineData("tova:2+8")]
    [InlineData("snapkv:1+12")]
    [InlineData("keydiff:1+6")]
    public void TheCacheKeepsWhatThePaperRuleKeepsAtEveryStep(string spec)
    {
        CachePolicy p = CachePolicy.Parse(spec);
        int kvHeads = 2, dim = 3, budget = p.Budget, cap = budget + 1;
        var cache = new EvictingCache(p, 1, kvHeads, cap, dim);
        var keysT = new float[kvHeads][];
        for (int h = 0; h < kvHeads; h++) keysT[h] = new float[dim * cap];
        float Key(long pos, int h, int d) => MathF.Sin(pos * 1.7f + h * 0.3f + d * 2.1f) + (pos % 3 == 0 ? 1f : 0f);
        // Reference: per head, a list of (position, score) following the rule as written from the paper.
        var refs = Enumerable.Range(0, kvHeads).Select(_ => new List<(long Pos, float Acc)>()).ToArray();
        int w = EvictingCache.ObservationWindow(p);
        SlotMove move = (_, h, from, to) => { for (int d = 0; d < dim; d++) keysT[h][d * cap + to] = keysT[h][d * cap + from]; };
        for (long t = 0; t < 40; t++)
        {
            for (int h = 0; h < kvHeads; h++)
            {
                int slot = cache.Append(0, h, t);
                for (int d = 0; d < dim; d++) keysT[h][d * cap + slot] = Key(t, h, d);
                refs[h].Add((t, 0));
            }
            for (int h = 0; h < kvHeads; h++)
            {
                ReadOnlySpan<long> slots = cache.Positions(0, h);
                float[] row = slots.ToArray().Select(k => Weight(t, k, h)).ToArray();
                cache.Record(0, h, t, row, first: true);
                for (int i = 0; i < refs[h].Count; i++)
                {
                    var (kp, acc) = refs[h][i];
                    refs[h][i] = p.Kind == CacheKind.Tova ? (kp, Weight(t, kp, h)) : (kp, acc + Weight(t, kp, h));
                }
            }
            cache.Evict(0, t, move, h => (keysT[h], 0, cap, dim));
            // Reference eviction.
            while (refs[0].Count > budget)
            {
                if (p.Kind == CacheKind.Tova)
                {
                    // one decision per layer: the latest query's weights summed over heads
                    var cand = refs[0].Select((r, i) => (r.Pos, Score: refs.Sum(hr => hr.First(x => x.Pos == r.Pos).Acc))).Where(x => x.Pos >= p.Sinks)
                        .OrderBy(x => x.Score).ThenBy(x => x.Pos).First();
                    foreach (var hr in refs) hr.RemoveAll(x => x.Pos == cand.Pos);
                    continue;
                }
                for (int h = 0; h < kvHeads; h++)
                {
                    if (refs[h].Count <= budget) continue;
                    long victim;
                    if (p.Kind == CacheKind.H2O)
                        victim = refs[h].Where(x => x.Pos >= p.Sinks && x.Pos <= t - p.Window).OrderBy(x => x.Acc).ThenBy(x => x.Pos).First().Pos;
                    else if (p.Kind == CacheKind.SnapKv)
                    {
                        // votes of the last w queries (rows of queries older than w are overwritten, so they count no more)
                        long[] live = refs[h].Select(x => x.Pos).OrderBy(x => x).ToArray();
                        // the last w queries that saw key k (each sees the keys present when it ran)
                        float Vote(long k)
                        {
                            float v = 0;
                            for (long q = Math.Max(k, t - w + 1); q <= t; q++) v += Weight(q, k, h);
                            return v;
                        }
                        float Pooled(int i) => Enumerable.Range(i - 3, 7).Where(j => j >= 0 && j < live.Length).Sum(j => Vote(live[j])) / 7;
                        int protect = Math.Min(w, Math.Max(1, budget - p.Sinks));
                        victim = live.Select((k, i) => (k, s: Pooled(i))).Where(x => x.k >= p.Sinks && x.k <= t - protect).OrderBy(x => x.s).ThenBy(x => x.k).First().k;
                    }
                    else
                    {
                        long[] live = refs[h].Select(x => x.Pos).ToArray();
                        double[] mean = Enumerable.Range(0, dim).Select(d => live.Average(k => (double)Key(k, h, d))).ToArray();
                        victim = live.Where(k => k >= p.Sinks).Select(k =>
                        {
                            double dot = 0, kk = 0;
                            for (int d = 0; d < dim; d++) { dot += Key(k, h, d) * mean[d]; kk += Key(k, h, d) * Key(k, h, d); }
                            return (k, cos: dot / Math.Sqrt(kk));
                        }).OrderByDescending(x => x.cos).ThenBy(x => x.k).First().k;
                    }
                    refs[h].RemoveAll(x => x.Pos == victim);
                }
            }
            for (int h = 0; h < kvHeads; h++)
            {
                long[] live = cache.Positions(0, h).ToArray();
                Assert.Equal(refs[h].Select(x => x.Pos).OrderBy(x => x), live.OrderBy(x => x));
                int[] ranks = cache.Ranks(0, h).ToArray();   // the maintained stream order: rank = number of older live tokens
                for (int i = 0; i < live.Length; i++) Assert.Equal(live.Count(x => x < live[i]), ranks[i]);
            }
            for (int h = 0; h < kvHeads; h++) Assert.All(Enumerable.Range(0, (int)Math.Min(t + 1, p.Sinks)), s => Assert.Contains((long)s, cache.Positions(0, h).ToArray()));
        }
    }

    [Theory]
    [InlineData("h2o:4+40+40")]
    [InlineData("tova:4+80")]
    [InlineData("snapkv:4+80")]
    [InlineData("pyramid:4+600")]   // its top layer keeps 4 + 600/20 = 34
    [InlineData("keydiff:4+80")]
    [InlineData("tova:4+80@original")]
    public void APolicyThatNeverEvictsComputesWhatTheFullCacheComputes(string spec)
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[] ids = m.Tokenizer.Encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.");
        using var full = new InferenceSession(m, new SessionOptions { ContextSize = 64 });
        using var ev = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Parse(spec), BatchSize = 7 });
        foreach (int id in ids)
        {
            float[] a = full.Decode(id).ToArray(), b = ev.Decode(id).ToArray();
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-4f);
        }
        var chunked = new float[ids.Length * m.Config.VocabSize];
        ev.Reset();
        ev.Evaluate(ids, chunked);   // prefill in chunks of 7 gives the same last logits
        float[] last = full.Logits.ToArray();
        for (int i = 0; i < last.Length; i++) Assert.Equal(last[i], chunked[(ids.Length - 1) * m.Config.VocabSize + i], 1e-4f);
        Assert.Equal(0, ev.Evicted);
    }

    [Theory]
    [InlineData("h2o:0+0+24", "window:24")]                     // positions inside the cache: keys re-rotated at their ranks
    [InlineData("h2o:0+0+24@original", "window:24@original")]   // stream positions
    [InlineData("h2o:4+0+20", "sink:4+20")]
    public void RecentOnlyH2OIsStreamingLlm(string h2oSpec, string sinkSpec)
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[] stream = m.Tokenizer.Encode(File.ReadAllText(Shared.TinyStories).AsSpan(0, 3000))[..200];
        using var h2o = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Parse(h2oSpec) });
        using var window = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Parse(sinkSpec) });
        foreach (int id in stream)
        {
            float[] a = window.Decode(id).ToArray(), b = h2o.Decode(id).ToArray();
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-4f);
        }
        Assert.True(h2o.Evicted > 0);
    }

    [Theory]
    [InlineData("h2o:4+30+30")]
    [InlineData("tova:4+60")]
    [InlineData("snapkv:4+60")]
    [InlineData("pyramid:4+60")]
    [InlineData("keydiff:4+60")]
    public void EveryPolicyKeepsItsSinksAndItsBudgetAndAllocatesNothingPerToken(string spec)
    {
        using Model m = Model.Load(Shared.StoriesF32);
        CachePolicy p = CachePolicy.Parse(spec);
        int[] stream = m.Tokenizer.Encode(File.ReadAllText(Shared.TinyStories).AsSpan(0, 4000))[..300];
        using var s = new InferenceSession(m, new SessionOptions { Cache = p });
        for (int i = 0; i < 150; i++) s.Decode(stream[i]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 150; i < stream.Length; i++) s.Decode(stream[i]);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        EvictingCache c = s.Evicting!;
        for (int l = 0; l < m.Config.Layers; l++)
            for (int h = 0; h < m.Config.KvHeads; h++)
            {
                long[] kept = c.Positions(l, h).ToArray();
                Assert.Equal(p.LayerBudget(l, m.Config.Layers), kept.Length);
                Assert.All(Enumerable.Range(0, 4), sink => Assert.Contains((long)sink, kept));
                if (p.Kind is CacheKind.H2O or CacheKind.SnapKv or CacheKind.Pyramid) Assert.Contains((long)stream.Length - 1, kept);   // recent / window protected
            }
        Assert.Equal(p.Budget, s.CachedTokens, 1e-9);
    }

    [Fact]
    public void BadEvictionInputIsOneLineAndExitTwo()
    {
        string mpt = Path.Combine(Shared.Root, "reference", "arch", "mpt.gguf");
        var cases = new (string[] Args, string Expect)[]
        {
            (["stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--tokens", "100", "--cache", "h2o:4+62"], "h2o:S+H+R"),
            (["stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--tokens", "100", "--cache", "tova:4+0"], "budget W"),
            (["stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--tokens", "100", "--cache", "lru:64"], "unknown"),
            (["stream", Shared.StoriesF32, "-f", Shared.TinyStories, "--tokens", "100", "--cache", "shift:8@original"], "@original"),
            (["stream", mpt, "-f", Shared.TinyStories, "--tokens", "100", "--cache", "tova:4+60"], "ALiBi"),
        };
        foreach (var (args, expect) in cases)
        {
            var (code, _, err) = CliTests.Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)} → {code}: {err}");
            Assert.Contains(expect, err);
            Assert.Single(err.Trim().Split('\n'));
        }
    }
}
