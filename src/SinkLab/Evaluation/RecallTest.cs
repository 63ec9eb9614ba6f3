using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Evaluation;

/// <summary>Settings of <see cref="RecallTest.Run"/>.</summary>
public sealed record RecallOptions
{
    /// <summary>Tokens between the end of the first copy of the passage and the start of the second.</summary>
    public IReadOnlyList<int> Distances { get; init; } = [16, 32, 64, 128, 256];
    /// <summary>Trials per distance (a different passage and filler each).</summary>
    public int Trials { get; init; } = 20;
    /// <summary>Passage length L (L − 1 tokens are scored per trial).</summary>
    public int PassageLength { get; init; } = 16;
    /// <summary>Tokens of filler before the first copy.</summary>
    public int LeadIn { get; init; } = 8;
    /// <summary>Seed of the passage and filler choice.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Trials run at once, one single-threaded session each.</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>Accuracy at one distance.</summary>
/// <param name="Distance">Tokens between the copies.</param>
/// <param name="Accuracy">Share of the second copy's tokens 2..L predicted exactly (greedy, teacher-forced).</param>
/// <param name="Baseline">The same with the first copy replaced by filler: what the passage's own predictability gives.</param>
/// <param name="Trials">Trials.</param>
public sealed record RecallPoint(int Distance, double Accuracy, double Baseline, int Trials);

/// <summary>One policy's recall curve.</summary>
/// <param name="Policy">The cache policy.</param>
/// <param name="Points">One point per distance (NaN accuracy where the policy cannot hold the sequence: a dense cache
/// beyond the model's context).</param>
public sealed record RecallResult(string Policy, RecallPoint[] Points);

/// <summary>
/// The repeated-passage recall test (docs/metrics.md, "Recall under eviction"): a passage of L tokens from the corpus
/// appears after a short lead-in of filler, then again after <c>d</c> tokens of other corpus text; the model copies it
/// if the passage's tokens are still in its cache (or its summary of them is good enough). Scored as the share of
/// the second copy's tokens 2..L that are the greedy next-token prediction, against a baseline in which the first copy
/// is replaced by filler of the same length. Natural-text models do this with induction heads; how far back they can
/// copy under each cache policy, at equal budget, is the point of the test.
/// </summary>
public static class RecallTest
{
    /// <summary>Runs the test on <paramref name="corpus"/> (token ids without BOS) under <paramref name="policy"/>.</summary>
    /// <exception cref="ArgumentException">A corpus too short, a distance below 0 or a bad setting.</exception>
    public static RecallResult Run(Model model, int[] corpus, CachePolicy policy, RecallOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(options);
        if (!policy.IsCache) throw new ArgumentException($"--cache {policy}: recompute is not a cache; the recall test runs cache policies", "--cache");
        if (options.Trials < 1) throw new ArgumentOutOfRangeException("--trials", options.Trials, "must be ≥ 1");
        if (options.PassageLength < 2) throw new ArgumentOutOfRangeException("--length", options.PassageLength, "must be ≥ 2");
        if (options.Distances.Count == 0 || options.Distances.Any(d => d < 0)) throw new ArgumentException("distances must be ≥ 0", "--distances");
        int L = options.PassageLength, maxLen = 1 + options.LeadIn + 2 * L + options.Distances.Max();
        if (corpus.Length < maxLen + 2 * L) throw new ArgumentException($"the corpus has {corpus.Length} tokens; the longest trial needs {maxLen + 2 * L}", "--file");
        int bos = model.Tokenizer.BosId;
        var points = new List<RecallPoint>();
        foreach (int d in options.Distances)
        {
            int len = 1 + options.LeadIn + 2 * L + d;
            if (policy.Kind == CacheKind.Full && len > model.Config.ContextLength)
            {
                points.Add(new RecallPoint(d, double.NaN, double.NaN, 0));
                continue;
            }
            var (hits, baseHits) = Trials(model, policy, len, options, (session, trial) =>
            {
                var rng = new Random(Mix(options.Seed, d, trial));
                int passage = rng.Next(corpus.Length - L), filler = rng.Next(corpus.Length - (len + L));
                int[] seq = Build(corpus, bos, passage, filler, L, options.LeadIn, d, withFirst: true);
                int[] control = Build(corpus, bos, passage, filler, L, options.LeadIn, d, withFirst: false);
                return (Score(session, seq, L), Score(session, control, L));
            });
            double n = (double)options.Trials * (L - 1);
            points.Add(new RecallPoint(d, hits / n, baseHits / n, options.Trials));
        }
        return new RecallResult(policy.ToString(), [.. points]);
    }

    /// <summary>Runs <see cref="RecallOptions.Trials"/> trials, <see cref="RecallOptions.Threads"/> at once, each thread
    /// with its own single-threaded session of <paramref name="policy"/> (a dense cache sized to
    /// <paramref name="length"/>); returns the summed (hits, baseline hits).</summary>
    internal static (long Hits, long BaseHits) Trials(Model model, CachePolicy policy, int length, RecallOptions options,
        Func<InferenceSession, int, (int Hits, int BaseHits)> trial)
    {
        var hits = new int[options.Trials];
        var baseHits = new int[options.Trials];
        Parallel.For(0, options.Trials, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Threads) },
            () => new InferenceSession(model, new SessionOptions { Threads = 1, Cache = policy, ContextSize = policy.Kind == CacheKind.Full ? length : 0 }),
            (t, _, session) =>
            {
                (hits[t], baseHits[t]) = trial(session, t);
                return session;
            },
            session => session.Dispose());
        return (hits.Sum(), baseHits.Sum());
    }

    /// <summary>The trial's seed: <see cref="SeedMix"/> of (seed, distance, trial), the same in every process.</summary>
    internal static int Mix(int seed, int distance, int trial) => SeedMix.Of(seed, distance, trial);

    /// <summary>BOS, lead-in filler, the passage (or filler in its place), d filler tokens, the passage.</summary>
    internal static int[] Build(int[] corpus, int bos, int passage, int filler, int length, int leadIn, int distance, bool withFirst)
    {
        var seq = new List<int>();
        if (bos >= 0) seq.Add(bos);
        int f = filler;
        for (int i = 0; i < leadIn; i++) seq.Add(corpus[f++]);
        for (int i = 0; i < length; i++) seq.Add(withFirst ? corpus[passage + i] : corpus[f++]);
        for (int i = 0; i < distance; i++) seq.Add(corpus[f++]);
        for (int i = 0; i < length; i++) seq.Add(corpus[passage + i]);
        return [.. seq];
    }

    /// <summary>Greedy hits on the last <paramref name="length"/> − 1 tokens, teacher-forced, token by token.</summary>
    private static int Score(InferenceSession session, int[] seq, int length)
    {
        session.Reset();
        int hits = 0, firstScored = seq.Length - length + 1;
        for (int i = 0; i < seq.Length - 1; i++)
        {
            ReadOnlySpan<float> logits = session.Decode(seq[i]);
            if (i + 1 < firstScored) continue;
            int best = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
            if (best == seq[i + 1]) hits++;
        }
        return hits;
    }
}
