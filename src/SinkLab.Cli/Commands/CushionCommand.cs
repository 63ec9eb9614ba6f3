using System.CommandLine;
using SinkLab.Analysis;
using SinkLab.Evaluation;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab cushion MODEL -f CALIB.txt --tokens K</c>: CushionCache's greedy prefix search, then perplexity
/// under float, per-tensor static and per-token activation quantization with and without the prefix.</summary>
internal static class CushionCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var file = new Option<string>("--file", "-f") { Description = "Calibration text: the search's objective and the static scales are measured on it", Required = true };
        var k = new Option<int>("--tokens", "-k") { Description = "Most prefix tokens added after BOS", DefaultValueFactory = _ => 8 };
        var threshold = new Option<double>("--threshold") { Description = "Stop when a step lowers the largest activation by less than this fraction", DefaultValueFactory = _ => 0.01 };
        var candidates = new Option<int?>("--candidates") { Description = "Try only the N most frequent tokens of the calibration text at each step (default: the whole vocabulary up to 4,096 tokens, else 512)" };
        var searchSeqs = new Option<int>("--search-sequences") { Description = "Calibration sequences the search's objective runs on", DefaultValueFactory = _ => 4 };
        var searchTokens = new Option<int>("--search-tokens") { Description = "Tokens per search sequence (BOS included)", DefaultValueFactory = _ => 64 };
        var eval = new Option<string?>("--eval") { Description = "Text for the perplexity comparison (default: the calibration text)" };
        var ctx = new Option<int>("--ctx", "-c") { Description = "Perplexity chunk length", DefaultValueFactory = _ => 256 };
        var chunks = new Option<int?>("--chunks") { Description = "Perplexity chunks (default: 40)", DefaultValueFactory = _ => 40 };
        var bits = new Option<int>("--act-bits") { Description = "Bit width of the simulated activation quantization (2-16)", DefaultValueFactory = _ => 8 };
        var calibSeqs = new Option<int>("--calib-sequences") { Description = "Sequences for the static scales", DefaultValueFactory = _ => 16 };
        var calibTokens = new Option<int>("--calib-tokens") { Description = "Tokens per static-scale calibration sequence", DefaultValueFactory = _ => 128 };
        var output = new Option<string?>("--output", "-o") { Description = "Where to save the prefix (default: MODEL-NAME.prefix.json in the current directory)" };
        var cmd = new Command("cushion", "Search a CushionCache prefix (Son et al. 2024) and compare W8A8 perplexity with and without it")
        {
            model, file, k, threshold, candidates, searchSeqs, searchTokens, eval, ctx, chunks, bits, calibSeqs, calibTokens, output, threads, tok, json,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            int b = r.GetValue(bits);
            ActivationQuantization.QMax(b);
            var o = new Settings(r.GetValue(file)!, r.GetValue(k), r.GetValue(threshold), r.GetValue(candidates), r.GetValue(searchSeqs), r.GetValue(searchTokens),
                r.GetValue(eval), r.GetValue(ctx), r.GetValue(chunks) ?? 40, b, r.GetValue(calibSeqs), r.GetValue(calibTokens), r.GetValue(output),
                Cli.CheckThreads(r.GetValue(threads)));
            return Run(r.GetValue(model)!, r.GetValue(tok), o, r.GetValue(json));
        }));
        return cmd;
    }

    private sealed record Settings(string Calib, int Tokens, double Threshold, int? Candidates, int SearchSequences, int SearchTokens, string? Eval,
        int Ctx, int Chunks, int Bits, int CalibSequences, int CalibTokens, string? Output, int Threads);

    /// <summary>One perplexity of the comparison.</summary>
    internal sealed record Row(string Activations, bool Prefix, double Ppl, double PplStderr, double LargestActivation);

    private static int Run(string path, string? tokenizer, Settings s, bool json)
    {
        if (s.Tokens < 1) throw new ArgumentOutOfRangeException("--tokens", s.Tokens, "must be ≥ 1");
        if (s.Candidates is < 1) throw new ArgumentOutOfRangeException("--candidates", s.Candidates, "must be ≥ 1");
        if (s.SearchSequences < 1) throw new ArgumentOutOfRangeException("--search-sequences", s.SearchSequences, "must be ≥ 1");
        if (s.SearchTokens < 4) throw new ArgumentOutOfRangeException("--search-tokens", s.SearchTokens, "must be ≥ 4");
        if (s.Ctx < 8) throw new ArgumentOutOfRangeException("--ctx", s.Ctx, "must be at least 8");
        if (s.Chunks < 1) throw new ArgumentOutOfRangeException("--chunks", s.Chunks, "must be ≥ 1");
        if (s.Eval != null && !File.Exists(s.Eval)) throw new FileNotFoundException($"evaluation text not found: {s.Eval}", s.Eval);
        using Model m = Cli.LoadModel(path, tokenizer);
        if (1 + s.Tokens + s.Ctx - 1 > m.Config.ContextLength)
            throw new ArgumentException($"a prefix of up to {1 + s.Tokens} tokens before chunks of {s.Ctx} needs {s.Tokens + s.Ctx} positions; the model's context is {m.Config.ContextLength}", "--tokens");
        int[] calibIds = ActQuantOptions.CalibrationIds(m, s.Calib);
        int[][] search = ActQuantOptions.CalibrationSequences(m, s.Calib, calibIds, s.SearchSequences, s.SearchTokens);
        int[][] calib = ActQuantOptions.CalibrationSequences(m, s.Calib, calibIds, s.CalibSequences, s.CalibTokens);
        int vocab = m.Config.VocabSize;
        int? n = s.Candidates ?? (vocab <= 4096 ? null : 512);
        int[]? candidates = n is int count ? FrequentTokens(m, calibIds, count) : null;

        CushionResult result = null!;
        Cli.WithProgress("prefix search", p => result = CushionSearch.Run(m, search,
            new CushionOptions { MaxTokens = s.Tokens, Threshold = s.Threshold, Candidates = candidates, Threads = s.Threads },
            p == null ? null : new SyncProgress<(int Step, int Done, int Total)>(x => p.Report(((x.Step - 1) * x.Total + x.Done, s.Tokens * x.Total)))));
        string outPath = s.Output ?? Path.GetFileNameWithoutExtension(path) + ".prefix.json";
        Prefix.Save(outPath, new PrefixFile(result.Prefix, m.Tokenizer.Decode(result.Prefix), Path.GetFileName(path),
            [result.Baseline, .. result.Steps.Select(x => x.MaxActivation)]));

        string evalText = File.ReadAllText(s.Eval ?? s.Calib);
        var rows = new List<Row>();
        Cli.WithProgress("perplexity", p =>
        {
            int done = 0;
            foreach (bool withPrefix in new[] { false, true })
            {
                int[]? prefix = withPrefix ? result.Prefix : null;
                ActCalibration cal = ActQuantOptions.Calibrate(m, calib, prefix);
                double largest = Largest(m, cal);
                foreach (ActQuantMode mode in new[] { ActQuantMode.None, ActQuantMode.Static, ActQuantMode.Token })
                {
                    var setup = new PerplexitySetup { Prefix = prefix, Hooks = ActivationQuantization.For(mode, m.Config, s.Bits, cal) };
                    PerplexityResult ppl = Perplexity.Run(m, evalText, s.Ctx, s.Chunks, s.Threads, null, setup);
                    rows.Add(new Row(mode == ActQuantMode.None ? "float" : $"{mode.ToString().ToLowerInvariant()} INT{s.Bits}", withPrefix, ppl.Ppl, ppl.PplStdErr, largest));
                    p?.Report((++done, 6));
                }
            }
        });

        if (json)
        {
            Cli.WriteJson(new
            {
                Prefix = result.Prefix,
                PrefixText = m.Tokenizer.Decode(result.Prefix),
                PrefixFile = outPath,
                result.Baseline,
                result.Steps,
                result.Rejected,
                result.Evaluations,
                SearchSeconds = result.Seconds,
                Candidates = candidates?.Length ?? vocab,
                Bits = s.Bits,
                Rows = rows,
            });
            return 0;
        }
        Cli.Err.MarkupLine($"[bold]Prefix[/] ({result.Prefix.Length} tokens, saved to {Markup.Escape(outPath)}): {Markup.Escape(string.Join(" ", result.Prefix))}  [grey]{Markup.Escape(m.Tokenizer.Decode(result.Prefix))}[/]");
        Cli.Err.MarkupLine($"largest activation after the prefix: BOS alone {result.Baseline:G5} → {(result.Steps.Length > 0 ? result.Steps[^1].MaxActivation : result.Baseline):G5}; {result.Evaluations} prefixes tried in {result.Seconds:F1} s");
        var table = new Table().AddColumns("activations", "prefix", "PPL", "±", "largest calibrated |x|");
        foreach (Row row in rows)
            table.AddRow(row.Activations, row.Prefix ? "yes" : "no", row.Ppl.ToString("F4"), row.PplStderr.ToString("F4"), row.LargestActivation.ToString("G5"));
        Cli.Err.Write(table);
        return 0;
    }

    private static double Largest(Model m, ActCalibration cal) =>
        ActivationQuantization.Points(m.Config).SelectMany(p => Enumerable.Range(0, m.Config.Layers).Select(l => (double)cal.Max(p, l))).Max();

    /// <summary>The <paramref name="count"/> most frequent of <paramref name="ids"/> (ties: lower id), BOS first.</summary>
    internal static int[] FrequentTokens(Model m, int[] ids, int count)
    {
        var freq = new long[m.Config.VocabSize];
        foreach (int id in ids) freq[id]++;
        var top = Enumerable.Range(0, freq.Length).Where(i => freq[i] > 0).OrderByDescending(i => freq[i]).ThenBy(i => i).Take(count).ToList();
        int bos = m.Tokenizer.BosId;
        if (bos >= 0 && !top.Contains(bos)) { top.Insert(0, bos); if (top.Count > count) top.RemoveAt(top.Count - 1); }
        return [.. top];
    }
}
