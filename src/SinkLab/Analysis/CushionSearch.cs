using System.Diagnostics;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Analysis;

/// <summary>Settings of <see cref="CushionSearch.Run"/>.</summary>
public sealed record CushionOptions
{
    /// <summary>Most tokens added after BOS.</summary>
    public int MaxTokens { get; init; } = 8;
    /// <summary>Stop when a step lowers the largest activation by less than this fraction of its value before the step.</summary>
    public double Threshold { get; init; } = 0.01;
    /// <summary>Token ids tried at each step; null: the whole vocabulary.</summary>
    public IReadOnlyList<int>? Candidates { get; init; }
    /// <summary>Worker threads (candidates are split among them, one single-threaded session each).</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>One accepted step of the search: the token added and the objective with it.</summary>
/// <param name="Token">Token id.</param>
/// <param name="Text">Its text.</param>
/// <param name="MaxActivation">The objective after adding it.</param>
/// <param name="Gain">Relative decrease against the previous step.</param>
public sealed record CushionStep(int Token, string Text, double MaxActivation, double Gain);

/// <summary>Result of <see cref="CushionSearch.Run"/>.</summary>
/// <param name="Prefix">BOS followed by the accepted tokens.</param>
/// <param name="Baseline">The objective with BOS alone.</param>
/// <param name="Steps">Accepted steps, in order.</param>
/// <param name="Rejected">The best candidate of the step that ended the search (its gain was below the threshold), if any.</param>
/// <param name="Evaluations">Candidate prefixes evaluated.</param>
/// <param name="Seconds">Wall time of the search.</param>
public sealed record CushionResult(int[] Prefix, double Baseline, CushionStep[] Steps, CushionStep? Rejected, int Evaluations, double Seconds);

/// <summary>
/// The greedy prefix search of CushionCache (Son et al., EMNLP 2024, "Prefixing Attention Sinks can Mitigate Activation
/// Outliers for Large Language Model Quantization", §4.1): starting from BOS, add at each step the token that makes the
/// largest activation of the tokens that follow the prefix smallest, and stop when a step's relative gain falls below a
/// threshold. The objective is the largest |x| at any quantized point (<see cref="ActivationQuantization.Points"/>, all
/// layers) over the calibration sequences' tokens after the prefix — the quantity a per-tensor static scale must cover.
/// The prefix itself is computed in float and never measured: in use its keys and values are cached
/// (<see cref="SessionOptions.Prefix"/>). The paper's second stage, quantization-aware tuning of the prefix's keys and
/// values by gradient descent, is not done here.
/// </summary>
public static class CushionSearch
{
    /// <summary>Runs the search on <paramref name="calibration"/> (sequences starting with BOS).</summary>
    /// <exception cref="ArgumentException">No calibration sequence, a model without BOS, or bad options.</exception>
    public static CushionResult Run(Model model, int[][] calibration, CushionOptions options, IProgress<(int Step, int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(calibration);
        ArgumentNullException.ThrowIfNull(options);
        if (calibration.Length == 0) throw new ArgumentException("at least one calibration sequence is needed", nameof(calibration));
        int bos = model.Tokenizer.BosId;
        if (bos < 0) throw new ArgumentException("the model's tokenizer has no BOS token to start the prefix from");
        if (options.MaxTokens < 1) throw new ArgumentOutOfRangeException("--tokens", options.MaxTokens, "must be ≥ 1");
        if (!(options.Threshold >= 0 && options.Threshold < 1)) throw new ArgumentOutOfRangeException("--threshold", options.Threshold, "must lie in [0, 1)");
        int vocab = model.Config.VocabSize;
        int[] candidates = options.Candidates?.ToArray() ?? Enumerable.Range(0, vocab).ToArray();
        foreach (int c in candidates)
            if ((uint)c >= (uint)vocab) throw new ArgumentOutOfRangeException("--candidates", c, $"token id outside the vocabulary of {vocab}");
        int longest = calibration.Max(s => s.Length);
        if (1 + options.MaxTokens + longest - 1 > model.Config.ContextLength)
            throw new ArgumentException($"a prefix of up to {1 + options.MaxTokens} tokens and calibration sequences of {longest} exceed the model's context of {model.Config.ContextLength}", "--tokens");

        var sw = Stopwatch.StartNew();
        int threads = Math.Max(1, Math.Min(options.Threads, candidates.Length));
        var workers = Enumerable.Range(0, threads).Select(_ => new Worker(model, 1 + options.MaxTokens + longest, calibration)).ToArray();
        try
        {
            var prefix = new List<int> { bos };
            double current = workers[0].Objective(prefix);
            double baseline = current;
            var steps = new List<CushionStep>();
            CushionStep? rejected = null;
            int evaluations = 1;
            for (int step = 1; step <= options.MaxTokens; step++)
            {
                var scores = new double[candidates.Length];
                int done = 0;
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, w =>
                {
                    var trial = new List<int>(prefix) { 0 };
                    for (int i = w; i < candidates.Length; i += threads)
                    {
                        trial[^1] = candidates[i];
                        scores[i] = workers[w].Objective(trial);
                        int d = Interlocked.Increment(ref done);
                        if (progress != null && d % 16 == 0) lock (scores) progress.Report((step, d, candidates.Length));
                    }
                });
                evaluations += candidates.Length;
                int best = 0;
                for (int i = 1; i < candidates.Length; i++) if (scores[i] < scores[best]) best = i;   // ties: lowest id
                double gain = current > 0 ? (current - scores[best]) / current : 0;
                var s = new CushionStep(candidates[best], model.Tokenizer.TokenText(candidates[best]), scores[best], gain);
                if (gain < options.Threshold) { rejected = s; break; }
                prefix.Add(candidates[best]);
                steps.Add(s);
                current = scores[best];
            }
            return new CushionResult([.. prefix], baseline, [.. steps], rejected, evaluations, sw.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (Worker w in workers) w.Dispose();
        }
    }

    /// <summary>The objective of one prefix: the largest |x| at the quantized points over the calibration tokens after it.</summary>
    public static double Objective(Model model, IReadOnlyList<int> prefix, int[][] calibration)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(calibration);
        using var w = new Worker(model, prefix.Count + calibration.Max(s => s.Length), calibration);
        return w.Objective(prefix);
    }

    private sealed class Worker : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly int[][] _calibration;
        private readonly HookSet _recorder;
        private readonly int _bos;
        private float _max;

        public Worker(Model model, int context, int[][] calibration)
        {
            _session = new InferenceSession(model, new SessionOptions { Threads = 1, ContextSize = context, BatchSize = context });
            _calibration = calibration;
            _bos = model.Tokenizer.BosId;
            _recorder = new HookSet();
            foreach (HookPoint p in ActivationQuantization.Points(model.Config))
                _recorder.AddAllLayers(p, model.Config.Layers, (in HookEvent e) => _max = Math.Max(_max, ActivationQuantization.MaxAbs(e.Data)));
        }

        public double Objective(IReadOnlyList<int> prefix)
        {
            _max = 0;
            int[] ids = prefix.ToArray();
            foreach (int[] seq in _calibration)
            {
                _session.Reset();
                _session.Prefill(ids);
                using (_session.Hooks(_recorder)) _session.Prefill(Prefix.Continue(seq, ids, _bos));
            }
            return _max;
        }

        public void Dispose() => _session.Dispose();
    }
}
