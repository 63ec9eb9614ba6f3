using SinkLab.Caching;
using SinkLab.Inference;

namespace SinkLab.Tests.Streaming;

/// <summary>Eviction and position remapping of the cache bookkeeping on its own, before any model runs.</summary>
public class KvRingTests
{
    private static (long Stream, int Cache)[] Contents(KvRing r) => r.Contents().Select(c => (c.StreamPosition, c.CachePosition)).ToArray();

    private static void Step(KvRing r)
    {
        Assert.Equal(1, r.BeginChunk(1));
        r.EndChunk(1);
    }

    [Fact]
    public void SinkPolicyKeepsFirstSAndLastWAfterEveryStep()
    {
        const int S = 2, W = 3;
        var r = new KvRing(CachePolicy.Sink(S, W), 100);
        Assert.Equal(S + W + 1, r.Capacity);
        for (int n = 1; n <= 12; n++)
        {
            long pos = n - 1;
            // What token n−1 sees while it is processed: the cache before it plus itself, query at min(pos, S + W).
            r.BeginChunk(1);
            var (pinned, seg1, seg2, queryPos) = r.Visible(pos);
            Assert.Equal(Math.Min(n, S), pinned);
            Assert.Equal(Math.Max(0, Math.Min(n - S, W + 1)), seg1 + seg2);
            Assert.Equal(Math.Min(pos, S + W), queryPos);
            r.EndChunk(1);
            var want = Enumerable.Range(0, Math.Min(n, S)).Select(i => ((long)i, i))
                .Concat(Enumerable.Range(Math.Max(S, n - W), Math.Min(W, Math.Max(0, n - S))).Select((p, i) => ((long)p, S + i)))
                .ToArray();
            Assert.Equal(want, Contents(r));
            Assert.All(r.Contents(), c => Assert.InRange(c.Slot, 0, r.Capacity - 1));
            Assert.Equal(r.Live, r.Contents().Select(c => c.Slot).Distinct().Count());
            Assert.Equal(Math.Max(0, n - S - W), r.Evicted);
        }
    }

    [Fact]
    public void NewTokenReusesTheSlotOfTheTokenJustEvicted()
    {
        var r = new KvRing(CachePolicy.Sink(1, 2), 100);
        var slots = new List<int>();
        for (int n = 0; n < 8; n++)
        {
            r.BeginChunk(1);
            slots.Add(r.SlotOf(n));
            r.EndChunk(1);
        }
        // Slot 0 pinned; ring slots 1..3 cycle (W + 1 = 3 ring slots: W kept + the token in flight).
        Assert.Equal([0, 1, 2, 3, 1, 2, 3, 1], slots);
    }

    [Fact]
    public void OriginalPositionsKeepStreamPositionForTheQuery()
    {
        var r = new KvRing(CachePolicy.Sink(4, 4, originalPositions: true), 100);
        for (int n = 0; n < 20; n++) Step(r);
        r.BeginChunk(1);
        Assert.Equal(20, r.Visible(20).QueryPosition);
        Assert.False(r.Reindexed);
        var reindexed = new KvRing(CachePolicy.Sink(4, 4), 100);
        for (int n = 0; n < 20; n++) Step(reindexed);
        reindexed.BeginChunk(1);
        Assert.Equal(8, reindexed.Visible(20).QueryPosition);
        Assert.True(reindexed.Reindexed);
    }

    [Fact]
    public void WindowIsSinkWithoutSinks()
    {
        var r = new KvRing(CachePolicy.Parse("window:3"), 100);
        for (int n = 0; n < 7; n++) Step(r);
        Assert.Equal([(4L, 0), (5L, 1), (6L, 2)], Contents(r));
    }

    [Fact]
    public void ChunksNeverLetATokenSeeMoreThanTheWindow()
    {
        var r = new KvRing(CachePolicy.Sink(2, 4), 100);
        Assert.Equal(7, r.BeginChunk(10));   // 2 pinned + 5 ring slots (W + 1)
        r.EndChunk(7);
        Assert.Equal([(0L, 0), (1L, 1), (3L, 2), (4L, 3), (5L, 4), (6L, 5)], Contents(r));
        Assert.Equal(1, r.BeginChunk(10));   // steady state: one token per step
        Assert.Equal(2, r.Visible(7).Pinned);
        Assert.Equal(5, r.Visible(7).Segment1 + r.Visible(7).Segment2);
        r.EndChunk(1);
    }

    [Fact]
    public void ShiftDropsTheOlderHalfAfterTheKeptPrefix()
    {
        // llama.cpp: n_ctx 8, n_keep 2; when full, n_discard = (n_past − n_keep) / 2 = 3.
        var r = new KvRing(CachePolicy.Parse("shift:2"), 8);
        for (int n = 0; n < 8; n++) Step(r);
        Assert.Equal(8, r.Live);
        r.BeginChunk(1);
        Assert.Equal([(0L, 0), (1L, 1), (5L, 2), (6L, 3), (7L, 4)], Contents(r));
        Assert.Equal(5, r.Visible(8).QueryPosition);   // in-cache position: 8 − 3 discarded
        r.EndChunk(1);
        for (int n = 9; n < 11; n++) Step(r);
        Assert.Equal([(0L, 0), (1L, 1), (5L, 2), (6L, 3), (7L, 4), (8L, 5), (9L, 6), (10L, 7)], Contents(r));
        r.BeginChunk(1);
        Assert.Equal([(0L, 0), (1L, 1), (8L, 2), (9L, 3), (10L, 4)], Contents(r));
    }

    [Fact]
    public void FullCacheRefusesTheTokenAfterTheLast()
    {
        var r = new KvRing(CachePolicy.Full, 3);
        for (int n = 0; n < 3; n++) Step(r);
        Assert.Throws<InvalidOperationException>(() => r.BeginChunk(1));
    }

    [Theory]
    [InlineData("sink:4+252", CacheKind.Sink, 4, 252)]
    [InlineData("window:256", CacheKind.Sink, 0, 256)]
    [InlineData("recompute:1024", CacheKind.Recompute, 0, 1024)]
    [InlineData("shift:4", CacheKind.Shift, 4, 0)]
    [InlineData("full", CacheKind.Full, 0, 0)]
    [InlineData("sink:4+252@original", CacheKind.Sink, 4, 252)]
    public void ParsesPolicies(string text, CacheKind kind, int sinks, int window)
    {
        CachePolicy p = CachePolicy.Parse(text);
        Assert.Equal((kind, sinks, window), (p.Kind, p.Sinks, p.Window));
        Assert.Equal(text, p.ToString());
    }

    [Theory]
    [InlineData("sink:4")]
    [InlineData("sink:4+0")]
    [InlineData("window:0")]
    [InlineData("window:-3")]
    [InlineData("lru:5")]
    [InlineData("recompute:x")]
    public void RejectsBadPolicies(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => CachePolicy.Parse(text));
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void ShiftKeepMustLeaveRoom() =>
        Assert.Contains("K = 7", Assert.Throws<ArgumentException>(() => new KvRing(CachePolicy.Parse("shift:7"), 8)).Message);
}
