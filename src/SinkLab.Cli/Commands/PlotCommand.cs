using System.CommandLine;
using SinkLab.Reports;
using SinkLab.Training;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab plot probes RUN_DIR… --metric M -o FILE.png</c> (a quantity over training, seeds averaged) and
/// <c>sinklab plot points TABLE.tsv -o FILE.png</c> (means with intervals, e.g. α₀/ū against the training context).</summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var cmd = new Command("plot", "Draw training runs' probe curves, or a table of means with intervals, as PNG") { Probes(), Points() };
        return cmd;
    }

    private static Option<string> OutOption() => new("--out", "-o") { Description = "PNG file to write", Required = true };

    private static Command Probes()
    {
        var dirs = new Argument<string[]>("runs") { Description = "Run folders (out_dir of `train`); NAME-s1, NAME-s2… are averaged into NAME", Arity = ArgumentArity.OneOrMore };
        var metric = new Option<string>("--metric", "-m")
        {
            Description = $"One of: {string.Join(", ", RunCurves.Metrics)} (alpha-ratio = mean α₀ / uniform floor)",
            DefaultValueFactory = _ => "alpha-ratio",
        };
        var title = new Option<string?>("--title") { Description = "Chart title" };
        var o = OutOption();
        var cmd = new Command("probes", "A quantity of the runs' probes.jsonl (or validation loss) against the training step") { dirs, metric, title, o };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string m = r.GetValue(metric)!;
            var groups = RunCurves.Grouped(r.GetValue(dirs)!, m);
            byte[] png = Charts.Curves(r.GetValue(title) ?? $"{m} over training", "step", m,
                groups.Select(g => ($"{g.Name}{(g.Runs > 1 ? $" (mean of {g.Runs})" : "")}", g.Steps.Select(s => (double)s).ToArray(), g.Mean)));
            AtomicFile.WriteAllBytes(r.GetValue(o)!, png);
            return 0;
        }));
        return cmd;
    }

    private static Command Points()
    {
        var table = new Argument<string>("table") { Description = "Tab-separated file with the header: series x mean half" };
        var title = new Option<string>("--title") { Description = "Chart title", DefaultValueFactory = _ => "" };
        var xLabel = new Option<string>("--x-label") { Description = "x axis label", DefaultValueFactory = _ => "x" };
        var yLabel = new Option<string>("--y-label") { Description = "y axis label", DefaultValueFactory = _ => "y" };
        var log2 = new Option<bool>("--log2-x") { Description = "log₂ x axis (e.g. contexts 32…512)" };
        var o = OutOption();
        var cmd = new Command("points", "Means with error bars (half-widths) per series against x") { table, title, xLabel, yLabel, log2, o };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string path = r.GetValue(table)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found", path);
            var series = PointTable.Read(path);
            if (r.GetValue(log2) && series.Any(s => s.X.Any(x => !(x > 0))))
                throw new ArgumentException($"--log2-x: {path} has an x ≤ 0");
            AtomicFile.WriteAllBytes(r.GetValue(o)!, Charts.ErrorBars(r.GetValue(title)!, r.GetValue(xLabel)!, r.GetValue(yLabel)!, series, r.GetValue(log2)));
            return 0;
        }));
        return cmd;
    }
}
