using System.Diagnostics;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Evaluation;

/// <summary>Settings of a streaming evaluation.</summary>
public sealed record StreamOptions
{
    /// <summary>Worker threads: the session's threads for cache policies; parallel single-threaded sessions for
    /// recompute (whose steps are independent).</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Tokens per segment of <see cref="StreamResult.PplBySegment"/>.</summary>
    public int SegmentLength { get; init; } = 1000;
    /// <summary>Record memory every this many tokens.</summary>
    public int SampleEvery { get; init; } = 1000;
    /// <summary>Receives the tokens done so far.</summary>
    public IProgress<long>? Progress { get; init; }
    /// <summary>Stops the run (the result covers the tokens done).</summary>
    public CancellationToken Cancel { get; init; }
    /// <summary>A prefix kept pinned in the cache before the stream (<see cref="SessionOptions.Prefix"/>; under
    /// recompute, in front of every re-encoded window). The stream should not repeat its BOS
    /// (<see cref="Prefix.Continue"/>).</summary>
    public IReadOnlyList<int>? Prefix { get; init; }
    /// <summary>Snapshots of which stream positions the cache holds (layer 0, KV head 0), taken this many times over
    /// the stream (0: none).</summary>
    public int KeptSnapshots { get; init; }
}

/// <summary>The stream positions a cache held after <paramref name="Tokens"/> tokens (layer 0, KV head 0), sorted.</summary>
public sealed record KeptSnapshot(long Tokens, long[] Positions);

/// <summary>Memory and speed at one point of the stream.</summary>
/// <param name="Tokens">Tokens fed so far.</param>
/// <param name="Seconds">Time since the stream started.</param>
/// <param name="RssBytes">Resident set size of the process.</param>
/// <param name="CacheBytes">Bytes of keys and values live in the cache (recompute: its W-token window).</param>
/// <param name="TokensPerSecond">Speed since the previous sample.</param>
public sealed record StreamSample(long Tokens, double Seconds, long RssBytes, long CacheBytes, double TokensPerSecond);

/// <summary>Result of <see cref="StreamEvaluator.Run"/>.</summary>
/// <param name="Policy">The cache policy, as written on the command line.</param>
/// <param name="Ppl">exp(mean NLL) over all next-token predictions.</param>
/// <param name="Tokens">Tokens fed (BOS included); Tokens − 1 predictions are scored.</param>
/// <param name="Seconds">Wall time of the stream.</param>
/// <param name="TokensPerSecond">Tokens fed per second.</param>
/// <param name="PeakRssBytes">Largest resident set size seen during the run.</param>
/// <param name="PplBySegment">Perplexity of each consecutive segment of predictions (the last one may be shorter).</param>
/// <param name="Nll">Per-prediction NLL (nats): Nll[i] scores token i + 1.</param>
/// <param name="Samples">Memory and speed along the stream.</param>
public sealed record StreamResult(string Policy, double Ppl, long Tokens, double Seconds, double TokensPerSecond, long PeakRssBytes,
    double[] PplBySegment, float[] Nll, IReadOnlyList<StreamSample> Samples)
{
    /// <summary>What the cache held along the stream (<see cref="StreamOptions.KeptSnapshots"/>), or empty.</summary>
    public IReadOnlyList<KeptSnapshot> Kept { get; init; } = [];

    /// <summary>Resident set size at the first sample at or after <paramref name="tokens"/> tokens (the last sample if none).</summary>
    public long RssAt(long tokens) => (Samples.FirstOrDefault(s => s.Tokens >= tokens) ?? Samples[^1]).RssBytes;

    /// <summary>Tokens per second over the samples in the fraction [<paramref name="from"/>, <paramref name="to"/>] of the stream.</summary>
    public double SpeedBetween(double from, double to)
    {
        double t0 = 0, t1 = 0;
        long n0 = 0, n1 = 0;
        foreach (StreamSample s in Samples)
        {
            if (s.Tokens <= from * Tokens) { t0 = s.Seconds; n0 = s.Tokens; }
            if (s.Tokens <= to * Tokens) { t1 = s.Seconds; n1 = s.Tokens; }
        }
        return t1 > t0 ? (n1 - n0) / (t1 - t0) : double.NaN;
    }

    /// <summary>Running perplexity (over predictions 1..x) at every multiple of <paramref name="step"/> predictions.</summary>
    public (double[] X, double[] Ppl) RunningPpl(int step)
    {
        var x = new List<double>();
        var y = new List<double>();
        double sum = 0;
        for (int i = 0; i < Nll.Length; i++)
        {
            sum += Nll[i];
            if ((i + 1) % step == 0 || i == Nll.Length - 1) { x.Add(i + 1); y.Add(Math.Exp(sum / (i + 1))); }
        }
        return ([.. x], [.. y]);
    }
}

/// <summary>
/// StreamingLLM's evaluation protocol: feed the stream one token per step (BOS first), take the NLL of the next token
/// from the logits, and let the cache policy evict after every step. <c>recompute:W</c> instead re-encodes the last W
/// tokens from an empty cache for every prediction.
/// </summary>
public static class StreamEvaluator
{
    /// <summary>Runs <paramref name="policy"/> over <paramref name="tokens"/> (already tokenized, BOS first).</summary>
    /// <exception cref="ArgumentException">Fewer than two tokens.</exception>
    public static StreamResult Run(Model model, ReadOnlySpan<int> tokens, CachePolicy policy, StreamOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new StreamOptions();
        if (tokens.Length < 2) throw new ArgumentException($"the stream has {tokens.Length} token(s); at least 2 are needed to score one prediction", nameof(tokens));
        Check(model, policy, tokens.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SegmentLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SampleEvery, 1);
        int[] stream = tokens.ToArray();
        var nll = new float[stream.Length - 1];
        var clock = new Recorder(options);
        var kept = options.KeptSnapshots > 0 && policy.Kind != CacheKind.Recompute ? new List<KeptSnapshot>() : null;
        long done = policy.Kind == CacheKind.Recompute ? RunRecompute(model, stream, policy.Window, nll, options, clock) : RunCache(model, stream, policy, nll, options, clock, kept);
        clock.Finish(done);
        double sum = 0;
        for (long i = 0; i < done - 1; i++) sum += nll[i];
        int segs = (int)((done - 1 + options.SegmentLength - 1) / options.SegmentLength);
        var bySegment = new double[segs];
        for (int s = 0; s < segs; s++)
        {
            long a = (long)s * options.SegmentLength, b = Math.Min(done - 1, a + options.SegmentLength);
            double seg = 0;
            for (long i = a; i < b; i++) seg += nll[i];
            bySegment[s] = Math.Exp(seg / (b - a));
        }
        float[] scored = done - 1 == nll.Length ? nll : nll[..(int)Math.Max(0, done - 1)];
        return new StreamResult(policy.ToString(), done > 1 ? Math.Exp(sum / (done - 1)) : double.NaN, done, clock.Seconds,
            done / Math.Max(clock.Seconds, 1e-9), clock.PeakRss, bySegment, scored, clock.Samples) with { Kept = kept ?? [] };
    }

    /// <summary>Whether <paramref name="policy"/> can run over a stream of <paramref name="length"/> tokens on
    /// <paramref name="model"/> (learned position tables bound the cache); callers comparing several policies check them
    /// all before running any.</summary>
    /// <exception cref="ArgumentException">The policy cannot run on this model.</exception>
    public static void Check(Model model, CachePolicy policy, int length)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policy);
        int capacity = policy.Kind == CacheKind.Recompute ? policy.Window : new KvRing(policy, ContextFor(model, policy, length), model.Config.Layers).Capacity;
        InferenceSession.CheckPositions(model.Config, policy, capacity);
    }

    private static int ContextFor(Model model, CachePolicy policy, int length) => policy.Kind == CacheKind.Full ? length : model.Config.ContextLength;

    private static KeptSnapshot Snapshot(InferenceSession session, long tokens)
    {
        long[] positions = session.Evicting is { } e ? e.Positions(0, 0).ToArray() : session.Ring.Contents().Select(c => c.StreamPosition).ToArray();
        Array.Sort(positions);
        return new KeptSnapshot(tokens, positions);
    }

    private static long RunCache(Model model, int[] stream, CachePolicy policy, float[] nll, StreamOptions o, Recorder clock, List<KeptSnapshot>? kept)
    {
        int context = ContextFor(model, policy, stream.Length);
        int k = o.Prefix?.Count ?? 0;
        using var session = new InferenceSession(model, new SessionOptions
        {
            Threads = o.Threads, Cache = policy, ContextSize = policy.Kind == CacheKind.Full ? context + k : context, BatchSize = 1, Prefix = o.Prefix,
        });
        long bytesPerToken = (long)model.Config.Layers * model.Config.KvDim * 2 * sizeof(float);
        int every = o.KeptSnapshots > 0 ? Math.Max(1, stream.Length / o.KeptSnapshots) : 0;
        for (int i = 0; i < stream.Length; i++)
        {
            if (o.Cancel.IsCancellationRequested) return i;
            ReadOnlySpan<float> logits = session.Decode(stream[i]);
            if (i + 1 < stream.Length) nll[i] = (float)-Perplexity.LogSoftmaxAt(logits, stream[i + 1]);
            clock.Step(i + 1, (long)Math.Round(session.CachedTokens * bytesPerToken));
            if (every > 0 && (i + 1) % every == 0) kept?.Add(Snapshot(session, i + 1));
        }
        return stream.Length;
    }

    private static long RunRecompute(Model model, int[] stream, int window, float[] nll, StreamOptions o, Recorder clock)
    {
        long bytesPerToken = (long)model.Config.Layers * model.Config.KvDim * 2 * sizeof(float);
        int threads = Math.Max(1, o.Threads), block = 64;
        long next = 0, finished = 0;
        // Steps are independent: each worker takes the next block of predictions and re-encodes each one's window in its
        // own single-threaded session; progress is recorded in order of completion of whole prefixes.
        var completed = new bool[(stream.Length + block - 1) / block];
        object gate = new();
        long frontier = 0;
        void Worker()
        {
            int k = o.Prefix?.Count ?? 0;
            using var session = new InferenceSession(model, new SessionOptions { Threads = 1, ContextSize = window + k, BatchSize = window, Prefix = o.Prefix });
            while (!o.Cancel.IsCancellationRequested)
            {
                long b = Interlocked.Increment(ref next) - 1;
                long start = b * block;
                if (start >= stream.Length) return;
                long end = Math.Min(stream.Length, start + block);
                for (long i = start; i < end; i++)
                {
                    int from = (int)Math.Max(0, i - window + 1);
                    session.Reset();
                    ReadOnlySpan<float> logits = session.Prefill(stream.AsSpan(from, (int)(i + 1 - from)));
                    if (i + 1 < stream.Length) nll[i] = (float)-Perplexity.LogSoftmaxAt(logits, stream[i + 1]);
                }
                lock (gate)
                {
                    completed[b] = true;
                    while (frontier < completed.Length && completed[frontier]) frontier++;
                    long tokensDone = Math.Min(stream.Length, frontier * block);
                    if (tokensDone > finished)
                    {
                        finished = tokensDone;
                        clock.Step(tokensDone, Math.Min(tokensDone, window) * bytesPerToken * threads);
                    }
                }
            }
        }
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(Worker) { IsBackground = true }).ToArray();
        foreach (Thread t in workers) t.Start();
        foreach (Thread t in workers) t.Join();
        return o.Cancel.IsCancellationRequested ? finished : stream.Length;
    }

    /// <summary>Time, RSS and cache-size samples along the stream.</summary>
    private sealed class Recorder(StreamOptions o)
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private readonly List<StreamSample> _samples = [];
        private long _lastTokens;
        private double _lastSeconds;
        private long _lastCache;
        public long PeakRss { get; private set; } = Environment.WorkingSet;
        public double Seconds { get; private set; }
        public IReadOnlyList<StreamSample> Samples => _samples;

        public void Step(long tokens, long cacheBytes)
        {
            _lastCache = cacheBytes;
            if (tokens / o.SampleEvery == _lastTokens / o.SampleEvery) return;
            Sample(tokens);
            o.Progress?.Report(tokens);
        }

        private void Sample(long tokens)
        {
            double now = _watch.Elapsed.TotalSeconds;
            long rss = Environment.WorkingSet;
            PeakRss = Math.Max(PeakRss, rss);
            _samples.Add(new StreamSample(tokens, now, rss, _lastCache, (tokens - _lastTokens) / Math.Max(now - _lastSeconds, 1e-9)));
            _lastTokens = tokens;
            _lastSeconds = now;
        }

        public void Finish(long tokens)
        {
            Seconds = _watch.Elapsed.TotalSeconds;
            if (tokens > _lastTokens) Sample(tokens);
        }
    }
}
