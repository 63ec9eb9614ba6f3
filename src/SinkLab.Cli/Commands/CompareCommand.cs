using System.CommandLine;
using SinkLab.Analysis;
using SinkLab.Reports;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab compare A.gguf B.gguf … -f FILE</c>: sinks, outliers and BOS ablation of several files of one
/// model on the same sequences, side by side.</summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var models = new Argument<string[]>("models") { Description = "Two or more files of one model (e.g. F32, Q8_0, Q4_K_M, Q2_K)", Arity = ArgumentArity.OneOrMore };
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var file = new Option<string>("--file", "-f") { Description = "Corpus to draw sequences from", Required = true };
        var sequences = new Option<int>("--sequences", "-N") { Description = "Sequences N", DefaultValueFactory = _ => 100 };
        var tokens = new Option<int>("--tokens", "-T") { Description = "Tokens per sequence T (BOS included)", DefaultValueFactory = _ => 64 };
        var eps = new Option<string>("--eps") { Description = "Sink-rate thresholds, comma-separated, each in (0,1)", DefaultValueFactory = _ => "0.3,0.5,0.8" };
        var outDir = new Option<string?>("--out", "-o") { Description = "Directory for compare.json, compare.html and PNG plots" };
        var cmd = new Command("compare", "Sinks, outliers and BOS ablation of several files of one model, side by side")
        {
            models, file, sequences, tokens, eps, outDir, threads, json,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string[] paths = r.GetValue(models) ?? [];
            if (paths.Length < 2) throw new ArgumentException($"compare needs at least two model files (got {paths.Length})", "models");
            foreach (string p in paths) if (!File.Exists(p)) throw new FileNotFoundException($"model file not found: {p}", p);
            string corpus = r.GetValue(file)!;
            if (!File.Exists(corpus)) throw new FileNotFoundException($"corpus not found: {corpus}", corpus);
            var options = new InspectOptions
            {
                Sequences = r.GetValue(sequences), Tokens = r.GetValue(tokens), Epsilons = InspectCommand.ParseEps(r.GetValue(eps)!),
                Threads = Cli.CheckThreads(r.GetValue(threads)),
            };
            string text = File.ReadAllText(corpus);
            ComparisonReport report = null!;
            Cli.WithStagedProgress(p => report = ModelComparison.Run(paths, path => Cli.LoadModel(path, null), Path.GetFileName(corpus), text, options, p));
            if (r.GetValue(outDir) is string dir)
            {
                CompareWriter.Write(dir, report);
                Cli.Err.MarkupLine($"wrote {Markup.Escape(Path.Combine(dir, "compare.html"))} and compare.json");
            }
            if (r.GetValue(json)) Cli.WriteJson(report with { Models = [.. report.Models.Select(m => m with { Report = null })] });
            else Console.Out.Write(CompareWriter.Table(report));
            return 0;
        }));
        return cmd;
    }
}
