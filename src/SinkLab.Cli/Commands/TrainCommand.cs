using System.CommandLine;
using SinkLab.Reports;
using SinkLab.Training;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab train --config FILE.json [--set key=value]… [--resume]</c> and <c>sinklab experiment NAME</c>.</summary>
internal static class TrainCommand
{
    public static Command CreateTrain()
    {
        var config = new Option<string?>("--config", "-c") { Description = "Training config (JSON); defaults apply when omitted" };
        var set = new Option<string[]>("--set") { Description = "Override a setting: key=value (dotted keys, e.g. model.layers=4)", AllowMultipleArgumentsPerToken = false };
        var resume = new Option<bool>("--resume") { Description = "Continue from out_dir/checkpoint.bin" };
        var device = new Option<string?>("--device") { Description = "auto (CUDA when TorchSharp finds a GPU, else the CPU), cpu or cuda" };
        var probe = new Option<int?>("--probe-every") { Description = "Measure sink rate, α₀ and the first token's cost with the engine every N steps (out_dir/probes.jsonl)" };
        var json = Cli.JsonOption();
        var cmd = new Command("train", "Train a small Llama-style model (TorchSharp) and export it to GGUF") { config, set, resume, probe, device, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string? path = r.GetValue(config);
            if (path != null && !File.Exists(path)) throw new FileNotFoundException($"config not found: {path}", path);
            TrainConfig c = TrainConfig.Load(path, r.GetValue(set) ?? []);
            if (r.GetValue(probe) is int every)
            {
                if (every <= 0) throw new ArgumentException($"--probe-every must be ≥ 1 (got {every})", "--probe-every");
                c = c with { ProbeEvery = every };
            }
            if (r.GetValue(device) is string d) c = c with { Device = d };
            TrainResult result = null!;
            Cli.WithStagedProgress(p => result = Trainer.Run(c, r.GetValue(resume), p == null ? null : new SyncProgress<StepRecord>(s =>
                p.Report(($"train {c.Name}: loss {s.Loss:F3}, {s.TokensPerSecond:F0} tok/s", s.Step, c.Steps)))));
            if (r.GetValue(json))
                Cli.WriteJson(new { result.Config.Name, result.Gguf, ValLoss = result.FinalEvalLoss, result.Parameters, result.Seconds, FinalLoss = result.Steps[^1].Loss });
            else
                AnsiConsole.MarkupLine($"[green]{Markup.Escape(result.Gguf)}[/]: {result.Parameters:N0} parameters, val loss {result.FinalEvalLoss:F4}, {result.Seconds:F0} s");
            return 0;
        }));
        return cmd;
    }

    public static Command CreateExperiment()
    {
        var name = new Argument<string>("name") { Description = $"Grid: {string.Join(", ", Experiments.Names)}" };
        var outDir = new Option<string?>("--out", "-o") { Description = "Folder for runs, table and plots (default docs/results/experiments/NAME)" };
        var set = new Option<string[]>("--set") { Description = "Override a setting in every run: key=value" };
        var json = Cli.JsonOption();
        var cmd = new Command("experiment", "Train a grid of models, measure their sinks with the engine, write a table and plots") { name, outDir, set, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string grid = r.GetValue(name)!;
            string dir = r.GetValue(outDir) ?? Path.Combine("docs", "results", "experiments", grid);
            List<TrainConfig> configs = Experiments.Grid(grid, Path.Combine(dir, "runs"), r.GetValue(set) ?? []);
            Directory.CreateDirectory(dir);
            var runs = new List<ExperimentRun>();
            Cli.WithStagedProgress(p =>
            {
                foreach (TrainConfig c in configs)
                {
                    runs.Add(Experiments.TrainAndMeasure(c, progress: p == null ? null : new SyncProgress<StepRecord>(s =>
                        p.Report(($"{c.Name}", s.Step, c.Steps)))));
                    if (p == null) Console.Error.WriteLine($"{c.Name}: val loss {runs[^1].ValLoss:F3}, sink rate(0.3) {runs[^1].SinkRate["0.3"]:P0}");
                }
            });
            string table = Experiments.Table(runs);
            File.WriteAllText(Path.Combine(dir, "table.md"), table);
            File.WriteAllText(Path.Combine(dir, "results.json"), System.Text.Json.JsonSerializer.Serialize(new { Experiment = grid, Runs = runs }, ReportJson.Options));
            string[] labels = runs.Select(x => x.Name[(grid.Length + 1)..]).ToArray();
            File.WriteAllBytes(Path.Combine(dir, "sink_rate.png"), Charts.GroupedBars($"Sink rate by run ({grid})", "share of heads",
                labels, [("ε = 0.3", runs.Select(x => x.SinkRate["0.3"]).ToArray()), ("ε = 0.8", runs.Select(x => x.SinkRate["0.8"]).ToArray())]));
            File.WriteAllBytes(Path.Combine(dir, "loss.png"), Charts.GroupedBars($"Validation loss and the cost of dropping the first token ({grid})", "nats/token",
                labels, [("val loss", runs.Select(x => x.ValLoss).ToArray()), ("NLL with first token", runs.Select(x => x.NllWithFirst).ToArray()),
                         ("NLL without", runs.Select(x => x.NllWithoutFirst).ToArray())]));
            if (r.GetValue(json)) Cli.WriteJson(new { Experiment = grid, Runs = runs });
            else Console.Out.Write(table);
            return 0;
        }));
        return cmd;
    }
}
