using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SinkLab.Caching;
using SinkLab.Evaluation;
using SinkLab.Models;
using SinkLab.Reports;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab recall MODEL -f FILE --cache … --distances …</c>: can the model copy a passage seen d tokens
/// back, under each cache policy? With <c>--task facts</c>, on a bigram-recall model: can it answer a query about a
/// fact stored d tokens back?</summary>
internal static class RecallCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var task = new Option<string>("--task") { Description = "passage: copy a passage of the corpus seen d tokens back; facts: answer a query about a fact stored d tokens back (a model trained on bigram-recall, whose GGUF names the task)", DefaultValueFactory = _ => "passage" };
        var file = new Option<string?>("--file", "-f") { Description = "Corpus the passages and the filler come from (--task passage)" };
        var leadIn = new Option<int>("--lead-in") { Description = "Tokens before the passage or fact", DefaultValueFactory = _ => 8 };
        var cache = new Option<string>("--cache") { Description = "Cache policies, comma-separated (equal budgets for a fair comparison, e.g. sink:4+60,h2o:4+30+30,tova:4+60)", DefaultValueFactory = _ => "full,sink:4+60" };
        var distances = new Option<string>("--distances") { Description = "Tokens between the two copies, comma-separated", DefaultValueFactory = _ => "16,32,64,128,256,512" };
        var trials = new Option<int>("--trials") { Description = "Trials per distance", DefaultValueFactory = _ => 20 };
        var length = new Option<int>("--length") { Description = "Passage length in tokens", DefaultValueFactory = _ => 16 };
        var seed = new Option<int>("--seed") { Description = "Seed of the passage and filler choice", DefaultValueFactory = _ => 1 };
        var outDir = new Option<string?>("--out", "-o") { Description = "Directory for recall.json, table.md and recall.png" };
        var cmd = new Command("recall", "Recall under cache policies (a repeated passage, or planted facts): accuracy against distance")
        {
            model, task, file, cache, distances, trials, length, leadIn, seed, outDir, threads, tok, json,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            List<CachePolicy> policies = [.. r.GetValue(cache)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(p => CachePolicy.Parse(p))];
            if (policies.Count == 0) throw new ArgumentException("no cache policy given", "--cache");
            int[] ds = ParseInts(r.GetValue(distances)!, "--distances");
            var options = new RecallOptions
            {
                Distances = ds, Trials = r.GetValue(trials), PassageLength = r.GetValue(length), Seed = r.GetValue(seed),
                LeadIn = r.GetValue(leadIn), Threads = Cli.CheckThreads(r.GetValue(threads)),
            };
            string taskName = r.GetValue(task)!;
            if (taskName is not ("passage" or "facts")) throw new ArgumentException($"unknown task '{taskName}' (known: passage, facts)", "--task");
            bool facts = taskName == "facts";
            string? corpus = r.GetValue(file);
            if (!facts && corpus == null) throw new ArgumentException("--task passage needs a corpus: -f FILE", "--file");
            if (corpus != null && !File.Exists(corpus)) throw new FileNotFoundException($"corpus not found: {corpus}", corpus);
            using Model m = Cli.LoadModel(r.GetValue(model)!, r.GetValue(tok));
            SyntheticTask? synthetic = facts ? SyntheticTask.ReadFrom(m.File)
                ?? throw new ArgumentException($"{r.GetValue(model)}: no sinklab.task.* metadata; --task facts needs a model trained on bigram-recall by sinklab train", "--task")
                : null;
            int[] ids = facts ? [] : m.Tokenizer.Encode(File.ReadAllText(corpus!), addSpecial: false);
            var results = new List<RecallResult>();
            Cli.WithProgress("recall", p =>
            {
                for (int i = 0; i < policies.Count; i++)
                {
                    results.Add(synthetic != null ? FactRecall.Run(m, synthetic, policies[i], options) : RecallTest.Run(m, ids, policies[i], options));
                    p?.Report((i + 1, policies.Count));
                }
            });
            string table = Table(results, facts);
            if (r.GetValue(outDir) is string dir)
            {
                double[] x = ds.Select(d => (double)d).ToArray();
                byte[] png = Charts.Lines($"{(facts ? "Fact" : "Repeated-passage")} recall ({Path.GetFileName(r.GetValue(model))})",
                    facts ? "distance from the fact to its query (tokens)" : "distance between the copies (tokens)",
                    facts ? "share of queries answered" : "share of the second copy predicted", x,
                    results.Select(res => (res.Policy, res.Points.Select(p => p.Accuracy).ToArray()))
                        .Append((facts ? "fact never stored (baseline)" : "no first copy (baseline)", Baseline(results))));
                AtomicFile.WriteDirectory(dir, new Dictionary<string, byte[]>
                {
                    ["recall.json"] = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(results, ReportJson.Options)),
                    ["table.md"] = Encoding.UTF8.GetBytes(table),
                    ["recall.png"] = png,
                });
            }
            if (r.GetValue(json)) Cli.WriteJson(results);
            else Console.Out.Write(table);
            return 0;
        }));
        return cmd;
    }

    private static int[] ParseInts(string text, string option)
    {
        var list = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                throw new ArgumentException($"'{part}' is not a whole number ≥ 0", option);
            list.Add(v);
        }
        if (list.Count == 0) throw new ArgumentException("no value given", option);
        return [.. list];
    }

    /// <summary>The baseline per distance, measured under the first policy given.</summary>
    internal static double[] Baseline(IReadOnlyList<RecallResult> results) => [.. results[0].Points.Select(p => p.Baseline)];

    /// <summary>Accuracy per policy (rows) and distance (columns), with the baseline row.</summary>
    internal static string Table(IReadOnlyList<RecallResult> results, bool facts = false)
    {
        var sb = new StringBuilder("| policy | ");
        sb.Append(string.Join(" | ", results[0].Points.Select(p => $"d = {p.Distance}"))).Append(" |\n|---|");
        sb.Append(string.Concat(results[0].Points.Select(_ => "---:|"))).Append('\n');
        foreach (RecallResult r in results)
            sb.Append($"| {r.Policy} | ").Append(string.Join(" | ", r.Points.Select(p => double.IsNaN(p.Accuracy) ? "beyond context" : $"{100 * p.Accuracy:F1} %"))).Append(" |\n");
        sb.Append(facts ? "| fact never stored (baseline) | " : "| no first copy (baseline) | ")
            .Append(string.Join(" | ", Baseline(results).Select(b => double.IsNaN(b) ? "—" : $"{100 * b:F1} %"))).Append(" |\n");
        return sb.ToString();
    }
}
