using SinkLab.Caching;
using SinkLab.Evaluation;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tests.Models;

namespace SinkLab.Tests.Streaming;

/// <summary>The engine's bounded caches against a literal float64 StreamingLLM cache and against the dense cache.</summary>
public class StreamingSessionTests
{
    private static readonly int[] Stream = Enumerable.Range(0, 40).Select(i => i == 0 ? 1 : (i * 37 + 11) % 300).ToArray();

    private static FixtureModel Fixture(string variant = "softmax") => new()
    {
        Dim = 32, Hidden = 48, Layers = 2, Heads = 4, KvHeads = 2, Vocab = 300, Context = 64, Variant = variant, Seed = 11,
    };

    private static float[][] Engine(Model m, int[] tokens, CachePolicy policy, int threads = 1, int context = 0)
    {
        using var s = new InferenceSession(m, new SessionOptions { Cache = policy, Threads = threads, ContextSize = context });
        return tokens.Select(t => s.Decode(t).ToArray()).ToArray();
    }

    private static double MaxRelativeError(float[][] got, double[][] want)
    {
        double worst = 0;
        for (int t = 0; t < want.Length; t++)
        {
            double scale = want[t].Max(Math.Abs);
            for (int i = 0; i < want[t].Length; i++) worst = Math.Max(worst, Math.Abs(got[t][i] - want[t][i]) / scale);
        }
        return worst;
    }

    [Theory]
    [InlineData("softmax", 2, 5, false)]
    [InlineData("softmax", 4, 8, false)]
    [InlineData("softmax", 2, 5, true)]
    [InlineData("softmax", 0, 6, false)]
    [InlineData("sink-logit", 1, 7, false)]
    public void SinkCacheMatchesLiteralStreamingLlm(string variant, int sinks, int window, bool original)
    {
        FixtureModel f = Fixture(variant);
        using Model m = f.Load();
        double[][] want = ReferenceStreaming.Logits(f, Stream, new ReferenceStreaming.Policy(sinks, window, original));
        Assert.True(MaxRelativeError(Engine(m, Stream, CachePolicy.Sink(sinks, window, original)), want) < 1e-4);
        Assert.True(MaxRelativeError(Engine(m, Stream, CachePolicy.Sink(sinks, window, original), threads: 2), want) < 1e-4);
    }

    [Fact]
    public void ReindexingMattersOnceTheCacheEvicts()
    {
        FixtureModel f = Fixture();
        using Model m = f.Load();
        float[][] reindexed = Engine(m, Stream, CachePolicy.Sink(2, 5)), original = Engine(m, Stream, CachePolicy.Sink(2, 5, true));
        Assert.Equal(reindexed[6], original[6]);            // 7 tokens: nothing evicted yet
        Assert.NotEqual(reindexed[20], original[20]);
    }

    [Fact]
    public void ShiftCacheMatchesLiteralContextShift()
    {
        FixtureModel f = Fixture();
        using Model m = f.Load();
        double[][] want = ReferenceStreaming.Logits(f, Stream, new ReferenceStreaming.Policy(2, 0, ShiftCapacity: 10));
        Assert.True(MaxRelativeError(Engine(m, Stream, CachePolicy.Parse("shift:2"), context: 10), want) < 1e-4);
    }

    [Fact]
    public void SinkEqualsFullWhileTheStreamFitsAndBatchedPrefillEqualsSteps()
    {
        FixtureModel f = Fixture();
        using Model m = f.Load();
        int[] shortStream = Stream[..12];
        float[][] full = Engine(m, shortStream, CachePolicy.Full), sink = Engine(m, shortStream, CachePolicy.Sink(4, 8));
        for (int t = 0; t < shortStream.Length; t++)
            for (int i = 0; i < full[t].Length; i++) Assert.Equal(full[t][i], sink[t][i], 1e-5f);

        // A prompt fed in one call (the session cuts it into chunks that respect the window) equals token-by-token.
        using var s = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Sink(2, 5) });
        float[] batched = s.Prefill(Stream).ToArray();
        double[][] want = ReferenceStreaming.Logits(f, Stream, new ReferenceStreaming.Policy(2, 5));
        Assert.True(MaxRelativeError([batched], [want[^1]]) < 1e-4);
        Assert.Equal(Stream.Length, s.Position);
        Assert.Equal(7, s.Ring.Live);
    }

    [Fact]
    public void RecomputeEqualsAFreshForwardOfTheLastWTokens()
    {
        FixtureModel f = Fixture();
        using Model m = f.Load();
        const int W = 6;
        StreamResult r = StreamEvaluator.Run(m, Stream, CachePolicy.Parse($"recompute:{W}"), new StreamOptions { Threads = 2 });
        Assert.Equal(Stream.Length - 1, r.Nll.Length);
        foreach (int i in new[] { 0, 3, 5, 6, 20, 38 })
        {
            int from = Math.Max(0, i - W + 1);
            double[] logits = ReferenceForward.Logits(f, Stream[from..(i + 1)])[^1];
            double max = logits.Max(), lse = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
            Assert.Equal(lse - logits[Stream[i + 1]], r.Nll[i], 1e-4);
        }
    }

    [Fact]
    public void StreamResultAgreesWithItsPerTokenNll()
    {
        FixtureModel f = Fixture();
        using Model m = f.Load();
        StreamResult r = StreamEvaluator.Run(m, Stream, CachePolicy.Sink(2, 5), new StreamOptions { SegmentLength = 10, SampleEvery = 7 });
        Assert.Equal(Stream.Length, r.Tokens);
        Assert.Equal(Math.Exp(r.Nll.Average(x => (double)x)), r.Ppl, 1e-9);
        Assert.Equal(4, r.PplBySegment.Length);   // 39 predictions in segments of 10
        Assert.Equal(Math.Exp(r.Nll[30..].Average(x => (double)x)), r.PplBySegment[3], 1e-9);
        double[][] want = ReferenceStreaming.Logits(f, Stream, new ReferenceStreaming.Policy(2, 5));
        double max = want[10].Max(), lse = max + Math.Log(want[10].Sum(l => Math.Exp(l - max)));
        Assert.Equal(lse - want[10][Stream[11]], r.Nll[10], 1e-4);
        Assert.Equal(Stream.Length, r.Samples[^1].Tokens);
        Assert.Equal(7L * m.Config.Layers * m.Config.KvDim * 2 * sizeof(float), r.Samples[^1].CacheBytes);
    }

    [Fact]
    public void BoundedCacheDecodeAllocatesNothingPerToken()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        using var s = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Sink(4, 60) });
        var sampler = new Sampler(m.Config.VocabSize);
        int token = 1;
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 150; i++) token = sampler.Sample(s.Decode(token));
            Thread.Sleep(200);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 300; i++) token = sampler.Sample(s.Decode(token));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(64, s.Ring.Live);
        Assert.Equal(65, s.ContextSize);
    }
}
