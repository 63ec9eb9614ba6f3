using System.Diagnostics;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Analysis;

/// <summary>The analyses <see cref="Inspector"/> can run (<c>--only</c> names).</summary>
public static class AnalysisNames
{
#pragma warning disable CS1591
    public const string Sinks = "sinks", Massive = "massive", Mechanics = "mechanics", Sensitivity = "sensitivity",
        Collapse = "collapse", Entropy = "entropy", Bos = "bos", Outliers = "outliers";
#pragma warning restore CS1591
    /// <summary>All names.</summary>
    public static readonly string[] All = [Sinks, Massive, Mechanics, Sensitivity, Collapse, Entropy, Bos, Outliers];
}

/// <summary>Settings of <see cref="Inspector.Run"/>.</summary>
public sealed record InspectOptions
{
    /// <summary>Sequences N.</summary>
    public int Sequences { get; init; } = 100;
    /// <summary>Tokens per sequence T, BOS included.</summary>
    public int Tokens { get; init; } = 64;
    /// <summary>Thresholds ε of the sink rate.</summary>
    public IReadOnlyList<double> Epsilons { get; init; } = SinkMetrics.DefaultEpsilons;
    /// <summary>Analyses to run (names from <see cref="AnalysisNames"/>); null = all.</summary>
    public IReadOnlySet<string>? Only { get; init; }
    /// <summary>Sequences used for sensitivity (the first ones).</summary>
    public int SensitivitySequences { get; init; } = 8;
    /// <summary>Random directions per sequence for sensitivity.</summary>
    public int SensitivitySeeds { get; init; } = 3;
    /// <summary>Relative perturbation norm δ.</summary>
    public double Delta { get; init; } = 1e-2;
    /// <summary>Perturbed position j.</summary>
    public int Position { get; init; } = 1;
    /// <summary>Sequences for the BOS ablation (the first ones).</summary>
    public int BosSequences { get; init; } = 100;
    /// <summary>Threads of the session.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting out of range or an unknown analysis name.</exception>
    public void Validate(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (Sequences < 1) throw new ArgumentOutOfRangeException("--sequences", Sequences, "must be ≥ 1");
        if (Tokens < 4) throw new ArgumentOutOfRangeException("--tokens", Tokens, "must be ≥ 4");
        if (Tokens > config.ContextLength) throw new ArgumentOutOfRangeException("--tokens", Tokens, $"must not exceed the model's context {config.ContextLength}");
        foreach (double e in Epsilons)
            if (!(e > 0 && e < 1)) throw new ArgumentOutOfRangeException("--eps", e, "every ε must lie in (0, 1)");
        if (Epsilons.Count == 0) throw new ArgumentException("at least one ε is needed", "--eps");
        if (Only != null)
            foreach (string name in Only)
                if (!AnalysisNames.All.Contains(name))
                    throw new ArgumentException($"unknown analysis '{name}' (known: {string.Join(", ", AnalysisNames.All)})", "--only");
        if (!(Delta > 0 && Delta < 1)) throw new ArgumentOutOfRangeException("--delta", Delta, "must lie in (0, 1)");
        if (Position < 1 || Position > Tokens - 2) throw new ArgumentOutOfRangeException("--position", Position, $"must lie in [1, {Tokens - 2}]");
        if (SensitivitySequences < 1 || SensitivitySeeds < 1 || BosSequences < 1) throw new ArgumentException("sequence and seed counts must be ≥ 1");
    }

    /// <summary>Whether an analysis is selected.</summary>
    public bool Runs(string name) => Only == null || Only.Contains(name);
}

/// <summary>Everything <c>sinklab inspect</c> measures; serialised as <c>report.json</c>.</summary>
public sealed record InspectReport
{
    /// <summary>Version of this JSON layout.</summary>
    public int SchemaVersion { get; init; } = 1;
#pragma warning disable CS1591 // fields are described in docs/metrics.md
    public required string Model { get; init; }
    public required string Corpus { get; init; }
    public required ModelConfig Config { get; init; }
    public required int Sequences { get; init; }
    public required int Tokens { get; init; }
    public required double[] Epsilons { get; init; }
    public required string[] Analyses { get; init; }
    public Dictionary<string, double>? SinkRate { get; init; }
    public double[][]? AlphaFirst { get; init; }
    /// <summary>Per layer and head, the mean mass the learned sink logit takes (sink-logit and softmax-off-by-one
    /// models; null otherwise), to read against <see cref="AlphaFirst"/>: does the model still sink on its first token?</summary>
    public double[][]? LearnedSinkMass { get; init; }
    public double[]? AlphaByPosition { get; init; }
    public HeadTopKey[][]? TopKeys { get; init; }
    public double[][]? Entropy { get; init; }
    public MassiveLayer[]? MassiveActivations { get; init; }
    public MechanicsLayer[]? Mechanics { get; init; }
    public SensitivityReport? Sensitivity { get; init; }
    public CollapseReport? Collapse { get; init; }
    public BosAblationRow[]? BosAblation { get; init; }
    public OutlierLayer[]? Outliers { get; init; }
    public OutlierOrigin? OutlierOrigin { get; init; }
    public HeadPattern[]? ExamplePatterns { get; init; }
    public required Dictionary<string, double> Seconds { get; init; }
#pragma warning restore CS1591
}

/// <summary>The attention pattern of one head on one sequence, with the token texts (for plots).</summary>
/// <param name="Layer">Layer.</param>
/// <param name="Head">Head.</param>
/// <param name="AlphaFirst">The head's α of the first token over all sequences.</param>
/// <param name="Tokens">Token texts of the sequence.</param>
/// <param name="Pattern">Rows = queries, columns = keys.</param>
public sealed record HeadPattern(int Layer, int Head, double AlphaFirst, string[] Tokens, float[][] Pattern);

/// <summary>Runs the selected analyses on one model and corpus.</summary>
public static class Inspector
{
    /// <summary>Runs everything <paramref name="options"/> selects. <paramref name="progress"/> receives (stage, done, total).</summary>
    public static InspectReport Run(Model model, string modelName, string corpusName, string text, InspectOptions options,
        IProgress<(string Stage, int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(model.Config);
        var c = model.Config;
        int[][] seqs = CorpusSequences.Take(model.Tokenizer, text, options.Sequences, options.Tokens);
        using var session = new InferenceSession(model, new SessionOptions { Threads = options.Threads, ContextSize = options.Tokens, BatchSize = options.Tokens });
        var seconds = new Dictionary<string, double>();
        var sw = Stopwatch.StartNew();
        void Lap(string name) { seconds[name] = sw.Elapsed.TotalSeconds; sw.Restart(); }

        bool sinks = options.Runs(AnalysisNames.Sinks) || options.Runs(AnalysisNames.Entropy);
        bool massive = options.Runs(AnalysisNames.Massive), mech = options.Runs(AnalysisNames.Mechanics), collapse = options.Runs(AnalysisNames.Collapse);
        OutlierStatistics? outliers = options.Runs(AnalysisNames.Outliers) ? new OutlierStatistics(c, options.Tokens) : null;
        var outlierHooks = new HashSet<string>(outliers?.HookNamesRead() ?? [], StringComparer.Ordinal);
        // The intact pass (with patterns) and the first-dropped pass are BOS ablation's "bos" and "no_bos" variants:
        // feed them to its accumulators instead of running those 2 × N passes again.
        bool bosRuns = options.Runs(AnalysisNames.Bos);
        int bosCount = Math.Min(options.BosSequences, seqs.Length);
        bool shareBos = bosRuns && sinks;
        var bosDone = new Dictionary<string, BosAblation.Accumulator>(StringComparer.Ordinal);
        if (shareBos)
        {
            bosDone["bos"] = new BosAblation.Accumulator(c, options.Tokens);
            bosDone["no_bos"] = new BosAblation.Accumulator(c, options.Tokens - 1);
        }
        SinkReport? sinkReport = null;
        HeadPattern[]? examples = null;
        MassiveLayer[]? massiveReport = null;
        OutlierLayer[]? outlierReport = null;
        MechanicsLayer[]? mechReport = null;
        CollapseReport? collapseReport = null;
        if (sinks || massive || mech || collapse || outliers != null)
        {
            var acc = new SinkMetrics.Accumulator(c.Layers, c.Heads, options.Tokens, c.VocabSize, SinkMetrics.HasLearnedSink(c));
            var ma = new MassiveActivations(c.Layers);
            var sm = new SinkMechanics(c.Layers, c.Heads, c.KvHeads, c.HeadDim);
            var cosWith = new double[c.Layers]; var cosWithout = new double[c.Layers];
            var normWith = new double[c.Layers]; var normWithout = new double[c.Layers];
            for (int s = 0; s < seqs.Length; s++)
            {
                ActivationCache cache = session.RunWithCache(seqs[s], n =>
                    (sinks && n.EndsWith("hook_pattern", StringComparison.Ordinal)) ||
                    ((massive || collapse) && n.EndsWith("hook_resid_post", StringComparison.Ordinal)) ||
                    (mech && (n.EndsWith("attn.hook_q", StringComparison.Ordinal) || n.EndsWith("attn.hook_k", StringComparison.Ordinal) || n.EndsWith("attn.hook_v", StringComparison.Ordinal))) ||
                    outlierHooks.Contains(n));
                outliers?.Add(s, (p, l) => cache[p, l].Data);
                if (sinks) acc.Add(seqs[s], l => cache[HookPoint.Pattern, l].Data);
                if (shareBos && s < bosCount) bosDone["bos"].Add(seqs[s], seqs[s], cache);
                for (int l = 0; l < c.Layers; l++)
                {
                    if (massive) ma.Add(l, s, cache[HookPoint.ResidPost, l].Data, c.Dim);
                    if (mech) sm.Add(l, cache[HookPoint.Q, l].Data, cache[HookPoint.K, l].Data, cache[HookPoint.V, l].Data, options.Tokens);
                    if (collapse)
                    {
                        // Same tokens with and without the sink: positions 1.. here, 0.. in the dropped run below.
                        cosWith[l] += RepresentationCollapse.MeanPairwiseCosine(cache[HookPoint.ResidPost, l].Data, c.Dim, 1);
                        normWith[l] += RepresentationCollapse.CenteredNormRatio(cache[HookPoint.ResidPost, l].Data, c.Dim, 1);
                    }
                }
                bool bosDropped = shareBos && s < bosCount;
                if (collapse || bosDropped)
                {
                    int[] droppedIds = Interventions.DropFirst(seqs[s]);
                    ActivationCache dropped = session.RunWithCache(droppedIds, n => (collapse && n.EndsWith("hook_resid_post", StringComparison.Ordinal))
                                                                                     || (bosDropped && n.EndsWith("hook_pattern", StringComparison.Ordinal)));
                    if (bosDropped) bosDone["no_bos"].Add(seqs[s], droppedIds, dropped);
                    if (collapse)
                        for (int l = 0; l < c.Layers; l++)
                        {
                            cosWithout[l] += RepresentationCollapse.MeanPairwiseCosine(dropped[HookPoint.ResidPost, l].Data, c.Dim);
                            normWithout[l] += RepresentationCollapse.CenteredNormRatio(dropped[HookPoint.ResidPost, l].Data, c.Dim);
                        }
                }
                progress?.Report(("patterns and activations", s + 1, seqs.Length));
            }
            if (sinks)
            {
                sinkReport = acc.Build(options.Epsilons, model.Tokenizer);
                examples = StrongestHeads(session, seqs[0], sinkReport.AlphaFirst, 3);
            }
            if (massive) massiveReport = ma.Build();
            outlierReport = outliers?.Build();
            if (mech) mechReport = sm.Build();
            if (collapse)
            {
                double n = seqs.Length;
                collapseReport = new CollapseReport(cosWith.Select(x => x / n).ToArray(), cosWithout.Select(x => x / n).ToArray(),
                    normWith.Select(x => x / n).ToArray(), normWithout.Select(x => x / n).ToArray());
            }
            Lap("patterns_and_activations");
        }

        OutlierOrigin? origin = null;
        if (outliers != null)
        {
            progress?.Report(("outlier origin", 0, 1));
            origin = OutlierOriginAnalysis.Run(session, seqs.Take(Math.Min(16, seqs.Length)).ToArray());
            progress?.Report(("outlier origin", 1, 1));
            Lap("outlier_origin");
        }

        SensitivityReport? sens = null;
        if (options.Runs(AnalysisNames.Sensitivity))
        {
            progress?.Report(("sensitivity", 0, 1));
            sens = Analysis.Sensitivity.Measure(session, seqs.Take(Math.Min(options.SensitivitySequences, seqs.Length)).ToArray(),
                options.Position, options.Delta, options.SensitivitySeeds);
            progress?.Report(("sensitivity", 1, 1));
            Lap("sensitivity");
        }

        BosAblationRow[]? bos = null;
        if (bosRuns)
        {
            progress?.Report(("bos ablation", 0, 1));
            bos = BosAblation.Measure(session, seqs.Take(bosCount).ToArray(), options.Epsilons, done: shareBos ? bosDone : null);
            progress?.Report(("bos ablation", 1, 1));
            Lap("bos_ablation");
        }

        return new InspectReport
        {
            Model = modelName,
            Corpus = corpusName,
            Config = c,
            Sequences = seqs.Length,
            Tokens = options.Tokens,
            Epsilons = [.. options.Epsilons],
            Analyses = AnalysisNames.All.Where(options.Runs).ToArray(),
            SinkRate = options.Runs(AnalysisNames.Sinks) ? sinkReport?.SinkRate : null,
            AlphaFirst = options.Runs(AnalysisNames.Sinks) ? sinkReport?.AlphaFirst : null,
            AlphaByPosition = options.Runs(AnalysisNames.Sinks) ? sinkReport?.AlphaByPosition : null,
            LearnedSinkMass = options.Runs(AnalysisNames.Sinks) ? sinkReport?.LearnedSinkMass : null,
            TopKeys = options.Runs(AnalysisNames.Sinks) ? sinkReport?.TopKeys : null,
            Entropy = options.Runs(AnalysisNames.Entropy) ? sinkReport?.Entropy : null,
            MassiveActivations = massiveReport,
            Mechanics = mechReport,
            Sensitivity = sens,
            Collapse = collapseReport,
            BosAblation = bos,
            Outliers = outlierReport,
            OutlierOrigin = origin,
            ExamplePatterns = options.Runs(AnalysisNames.Sinks) ? examples : null,
            Seconds = seconds,
        };
    }

    /// <summary>Patterns of the <paramref name="count"/> heads with the largest α of the first token, on one sequence.</summary>
    public static HeadPattern[] StrongestHeads(InferenceSession session, int[] ids, double[][] alphaFirst, int count)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(alphaFirst);
        var heads = alphaFirst.SelectMany((row, l) => row.Select((a, h) => (l, h, a))).OrderByDescending(x => x.a).Take(count).ToArray();
        ActivationCache cache = session.RunWithCache(ids, n => n.EndsWith("hook_pattern", StringComparison.Ordinal));
        string[] texts = ids.Select(session.Model.Tokenizer.TokenText).ToArray();
        return heads.Select(x => new HeadPattern(x.l, x.h, x.a, texts, PatternOf(cache, x.l, x.h))).ToArray();
    }

    /// <summary>One head's [query][key] pattern from a cache.</summary>
    public static float[][] PatternOf(ActivationCache cache, int layer, int head)
    {
        ArgumentNullException.ThrowIfNull(cache);
        CapturedTensor p = cache[HookPoint.Pattern, layer];
        int n = p.Shape[1], keys = p.Shape[2];
        return Enumerable.Range(0, n).Select(t => p.Data.AsSpan((head * n + t) * keys, keys).ToArray()).ToArray();
    }
}
