using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Analysis;

/// <summary>One file's row of a comparison (<c>sinklab compare</c>): the sink, outlier and BOS measurements of
/// <see cref="Inspector"/> on the same sequences as every other file.</summary>
/// <param name="File">File name.</param>
/// <param name="Bytes">File size.</param>
/// <param name="Types">The matrix weight types, most bytes first.</param>
/// <param name="SinkRate">Sink rate per ε.</param>
/// <param name="MeanAlphaFirst">α₀ (attention to the first token) averaged over all heads.</param>
/// <param name="AlphaFirstByLayer">α₀ averaged over each layer's heads.</param>
/// <param name="LargestResidual">Largest |h| in the residual stream (any layer).</param>
/// <param name="LargestResidualRatio">Its ratio to that layer's median |h|.</param>
/// <param name="LargestResidualByLayer">Largest |h| of each layer's residual stream.</param>
/// <param name="LargestLinearInput">Largest |x| at any linear layer's input (what a per-tensor activation scale must cover).</param>
/// <param name="Spike">Where the largest residual |h| sits: position and channel.</param>
/// <param name="Bos">First-token ablation rows (mean NLL and sink rate with BOS, without it, …).</param>
/// <param name="Report">The full report of this file (left out of compare.json and --json).</param>
public sealed record ComparedModel(string File, long Bytes, string[] Types, Dictionary<string, double> SinkRate, double MeanAlphaFirst,
    double[] AlphaFirstByLayer, double LargestResidual, double LargestResidualRatio, double[] LargestResidualByLayer, double LargestLinearInput,
    int[] Spike, BosAblationRow[] Bos, InspectReport? Report);

/// <summary>The side-by-side report of <c>sinklab compare</c>.</summary>
/// <param name="Corpus">Corpus file name.</param>
/// <param name="Sequences">Sequences N.</param>
/// <param name="Tokens">Tokens per sequence T.</param>
/// <param name="Models">One entry per file, in the order given.</param>
public sealed record ComparisonReport(string Corpus, int Sequences, int Tokens, ComparedModel[] Models)
{
    /// <summary>Version of this JSON layout.</summary>
    public int SchemaVersion { get; init; } = 1;
}

/// <summary>Runs the same analyses on several files of one model (e.g. F32, Q8_0, Q4_K_M, Q2_K).</summary>
public static class ModelComparison
{
    /// <summary>The analyses a comparison runs.</summary>
    public static readonly string[] Analyses = [AnalysisNames.Sinks, AnalysisNames.Massive, AnalysisNames.Bos, AnalysisNames.Outliers];

    /// <summary>Runs every file; <paramref name="load"/> opens one. All files must tokenize the corpus alike.</summary>
    /// <exception cref="ArgumentException">Fewer than two files, or files whose tokenizers disagree (not one model).</exception>
    public static ComparisonReport Run(IReadOnlyList<string> files, Func<string, Model> load, string corpusName, string text, InspectOptions options,
        IProgress<(string Stage, int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(options);
        if (files.Count < 2) throw new ArgumentException("compare needs at least two model files", "models");
        options = options with { Only = new HashSet<string>(Analyses) };
        var rows = new List<ComparedModel>();
        int[][]? first = null;
        string? firstFile = null;
        (string, int, int, int, int, int, int) firstShape = default;
        foreach (string path in files)
        {
            using Model m = load(path);
            int[][] seqs = CorpusSequences.Take(m.Tokenizer, text, options.Sequences, options.Tokens);
            ModelConfig c = m.Config;
            var shape = (c.Architecture, c.Layers, c.Dim, c.Heads, c.KvHeads, c.HiddenDim, c.VocabSize);
            if (first == null) { first = seqs; firstFile = path; firstShape = shape; }
            else if (shape != firstShape)
                throw new ArgumentException($"{Path.GetFileName(path)} is a {shape} model, {Path.GetFileName(firstFile)} a {firstShape} one (architecture, layers, width, heads, KV heads, hidden, vocabulary): not files of one model", "models");
            else if (!seqs.Zip(first).All(p => p.First.AsSpan().SequenceEqual(p.Second)))
                throw new ArgumentException($"{Path.GetFileName(path)} tokenizes the corpus differently from {Path.GetFileName(firstFile)}: not files of one model", "models");
            string name = Path.GetFileName(path);
            var stage = progress == null ? null : new Progress<(string Stage, int Done, int Total)>(p => progress.Report(($"{name}: {p.Stage}", p.Done, p.Total)));
            InspectReport r = Inspector.Run(m, name, corpusName, text, options, stage);
            rows.Add(Summarize(path, m, r));
        }
        return new ComparisonReport(corpusName, options.Sequences, options.Tokens, [.. rows]);
    }

    private static ComparedModel Summarize(string path, Model m, InspectReport r)
    {
        string[] types = m.Weights.Layers.SelectMany(l => l.Matrices()).GroupBy(w => w.Type).OrderByDescending(g => g.Sum(w => w.ByteSize))
            .Select(g => g.Key.ToString()).ToArray();
        double[][] alpha = r.AlphaFirst!;
        MassiveLayer[] massive = r.MassiveActivations!;
        MassiveLayer top = massive.MaxBy(l => Math.Abs(l.Top.FirstOrDefault()?.Value ?? 0))!;
        MassiveValue? spike = top.Top.FirstOrDefault();
        double linear = r.Outliers!.SelectMany(l => l.Points).Where(p => p.Point != "resid").Max(p => p.MaxAbs);
        return new ComparedModel(Path.GetFileName(path), new FileInfo(path).Length, types, r.SinkRate!, alpha.SelectMany(x => x).Average(),
            alpha.Select(x => x.Average()).ToArray(), Math.Abs(spike?.Value ?? 0), top.TopRatio,
            massive.Select(l => Math.Abs(l.Top.FirstOrDefault()?.Value ?? 0)).ToArray(), linear,
            spike == null ? [] : [spike.Position, spike.Channel], r.BosAblation!, r);
    }
}
