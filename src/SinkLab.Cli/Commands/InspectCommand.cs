using System.CommandLine;
using System.Globalization;
using SinkLab.Analysis;
using SinkLab.Models;
using SinkLab.Reports;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab inspect MODEL -f FILE</c>: sink scores, massive activations, mechanics, over-mixing
/// sensitivity, collapse, entropy and BOS ablation; JSON always, HTML report with --out.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var file = new Option<string>("--file", "-f") { Description = "Corpus to draw sequences from", Required = true };
        var sequences = new Option<int>("--sequences", "-N") { Description = "Sequences N", DefaultValueFactory = _ => 100 };
        var tokens = new Option<int>("--tokens", "-T") { Description = "Tokens per sequence T (BOS included)", DefaultValueFactory = _ => 64 };
        var eps = new Option<string>("--eps") { Description = "Sink-rate thresholds, comma-separated, each in (0,1)", DefaultValueFactory = _ => "0.3,0.5,0.8" };
        var only = new Option<string?>("--only") { Description = $"Analyses to run, comma-separated: {string.Join(",", AnalysisNames.All)}" };
        var outDir = new Option<string?>("--out", "-o") { Description = "Directory for report.json, report.html and PNG plots" };
        var sensSeqs = new Option<int>("--sensitivity-sequences") { Description = "Sequences used for over-mixing sensitivity", DefaultValueFactory = _ => 8 };
        var delta = new Option<double>("--delta") { Description = "Relative norm δ of the embedding perturbation", DefaultValueFactory = _ => 1e-2 };
        var position = new Option<int>("--position") { Description = "Perturbed position j", DefaultValueFactory = _ => 1 };
        var cmd = new Command("inspect", "Measure attention sinks and over-mixing on a corpus")
        {
            model, file, sequences, tokens, eps, only, outDir, sensSeqs, delta, position, threads, tok, json,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            var options = new InspectOptions
            {
                Sequences = r.GetValue(sequences),
                Tokens = r.GetValue(tokens),
                Epsilons = ParseEps(r.GetValue(eps)!),
                Only = r.GetValue(only) is { } o ? o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet() : null,
                SensitivitySequences = r.GetValue(sensSeqs),
                Delta = r.GetValue(delta),
                Position = r.GetValue(position),
                Threads = Cli.CheckThreads(r.GetValue(threads)),
            };
            return Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(file)!, options, r.GetValue(outDir), r.GetValue(json));
        }));
        return cmd;
    }

    internal static double[] ParseEps(string text)
    {
        var list = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double e))
                throw new ArgumentException($"'{part}' is not a number", "--eps");
            list.Add(e);
        }
        return [.. list];
    }

    private static int Run(string path, string? tokenizer, string file, InspectOptions options, string? outDir, bool json)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"corpus not found: {file}", file);
        ReportWriter.CheckOutputDirectory(outDir);
        using Model m = Cli.LoadModel(path, tokenizer);
        options.Validate(m.Config);
        string text = File.ReadAllText(file);
        InspectReport report = null!;
        Cli.WithStagedProgress(progress => report = Inspector.Run(m, Path.GetFileName(path), Path.GetFileName(file), text, options, progress));
        if (outDir != null)
        {
            ReportWriter.Write(m, report, outDir);
            Cli.Err.MarkupLine($"wrote [green]{Markup.Escape(Path.Combine(outDir, "report.html"))}[/] and report.json");
        }
        if (json)
        {
            Cli.WriteJson(report);
            return 0;
        }
        WriteSummary(report);
        return 0;
    }

    private static void WriteSummary(InspectReport r)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(ReportText.Summary(r))}[/]");
        if (r.AlphaFirst is { } alpha)
        {
            var table = new Table().Title("α of the first token (layer × head)").AddColumn("layer");
            for (int h = 0; h < alpha[0].Length; h++) table.AddColumn($"h{h}");
            for (int l = 0; l < alpha.Length; l++)
                table.AddRow([$"{l}", .. alpha[l].Select(a => a > 0.3 ? $"[yellow]{a:F2}[/]" : $"{a:F2}")]);
            AnsiConsole.Write(table);
        }
        if (r.BosAblation is { } bos)
        {
            var table = new Table().Title("first-token ablation").AddColumn("variant").AddColumn("mean NLL").AddColumn("sink rate ε=0.3").AddColumn("mean α first");
            foreach (var row in bos)
                table.AddRow(row.Variant, $"{row.MeanNll:F4}", $"{row.SinkRate.GetValueOrDefault("0.3"):P0}", $"{row.MeanAlphaFirst:F3}");
            AnsiConsole.Write(table);
        }
        if (r.Sensitivity is { } s)
            AnsiConsole.MarkupLine($"over-mixing (last layer, mean ‖Δh‖/‖δx‖): dropped/intact = {s.RatioDroppedToIntact:F3}, masked/intact = {s.RatioMaskedToIntact:F3}");
    }
}
