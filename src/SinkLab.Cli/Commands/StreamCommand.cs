using System.CommandLine;
using System.Globalization;
using System.Text;
using SinkLab.Caching;
using SinkLab.Evaluation;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Reports;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab stream MODEL -f FILE --cache POLICY [--tokens N] [--compare P1,P2,…]</c>: StreamingLLM's
/// long-stream evaluation (one token per step, the cache evicting after every step).</summary>
internal static class StreamCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var file = new Option<string>("--file", "-f") { Description = "Text to stream (tokenized once, BOS first)", Required = true };
        var cache = new Option<string>("--cache") { Description = "Cache policy: full, window:W, sink:S+W, shift:K, recompute:W (suffix @original: stream positions)", DefaultValueFactory = _ => "sink:4+252" };
        var compare = new Option<string?>("--compare") { Description = "Several policies, comma-separated, run on the same stream (e.g. full,window:256,sink:4+252,recompute:256)" };
        var tokens = new Option<long>("--tokens", "-n") { Description = "Feed the first N tokens of the file (0 = all)", DefaultValueFactory = _ => 0 };
        var positions = new Option<string>("--positions") { Description = "Positions of sink/window caches: cache (re-indexed inside the cache, StreamingLLM) or original", DefaultValueFactory = _ => "cache" };
        var csv = new Option<string?>("--csv") { Description = "Write the per-token NLL to this CSV file" };
        var outDir = new Option<string?>("--out", "-o") { Description = "With --compare: folder for table.md, results.json and plots" };
        var segment = new Option<int>("--segment") { Description = "Tokens per segment of ppl_by_segment", DefaultValueFactory = _ => 1000 };
        var strict = new Option<bool>("--strict") { Description = "Treat a cache span larger than the model's context as an error, not a warning" };
        var prefixOpt = ActQuantOptions.PrefixOption();
        var cmd = new Command("stream", "Long-stream perplexity under a KV cache policy (StreamingLLM protocol)")
        {
            model, file, cache, compare, tokens, positions, csv, outDir, segment, strict, threads, tok, json, prefixOpt,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            bool original = r.GetValue(positions) switch
            {
                "cache" => false,
                "original" => true,
                var p => throw new ArgumentException($"--positions: expected cache or original (got '{p}')"),
            };
            string spec = r.GetValue(compare) ?? r.GetValue(cache)!;
            List<CachePolicy> policies = [.. spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(p => CachePolicy.Parse(p)).Select(p => original && p.Kind == CacheKind.Sink ? p with { OriginalPositions = true } : p)];
            if (policies.Count == 0) throw new ArgumentException("--compare: no policy given");
            if (r.GetValue(segment) < 1) throw new ArgumentOutOfRangeException("--segment", r.GetValue(segment), "must be ≥ 1");
            return Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(file)!, policies, r.GetValue(tokens), r.GetValue(csv),
                r.GetValue(compare) != null ? r.GetValue(outDir) : null, r.GetValue(segment), r.GetValue(strict),
                Cli.CheckThreads(r.GetValue(threads)), r.GetValue(json), r.GetValue(prefixOpt));
        }));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, string file, List<CachePolicy> policies, long count, string? csv,
        string? outDir, int segment, bool strict, int threads, bool json, string? prefixFile)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"text file not found: {file}", file);
        if (count < 0 || count == 1) throw new ArgumentOutOfRangeException("--tokens", count, "must be 0 (all) or ≥ 2");
        using Model m = Cli.LoadModel(path, tokenizer);
        foreach (CachePolicy p in policies) CheckSpan(p, m, strict);
        string text = File.ReadAllText(file);
        if (text.Trim().Length == 0) throw new ArgumentException($"{file}: the file is empty", "--file");
        int[] ids = m.Tokenizer.Encode(text, addSpecial: true);
        if (count > ids.Length)
            throw new ArgumentException($"{count:N0} tokens asked for, but {file} holds only {ids.Length:N0}", "--tokens");
        if (count > 0) ids = ids[..(int)count];
        int[]? prefix = prefixFile == null ? null : Inference.Prefix.Load(prefixFile, m.Tokenizer, m.Config.VocabSize);
        if (prefix != null)
        {
            ids = Inference.Prefix.Continue(ids, prefix, m.Tokenizer.BosId);   // the prefix takes BOS's place
            foreach (CachePolicy p in policies)
                if (p.Kind is not CacheKind.Full && prefix.Length >= (p.Kind == CacheKind.Recompute ? p.Window : m.Config.ContextLength))
                    throw new ArgumentException($"the prefix has {prefix.Length} tokens, as many as the cache policy {p} or the model's context leaves room for", "--prefix");
        }
        if (ids.Length < 2) throw new ArgumentException($"{file}: {ids.Length} token(s); a stream needs at least 2", "--file");
        foreach (CachePolicy p in policies) StreamEvaluator.Check(m, p, ids.Length);   // all refusals before any run

        var results = new List<StreamResult>();
        foreach (CachePolicy p in policies)
        {
            StreamResult r = null!;
            Cli.WithProgress($"stream {p}", progress => r = StreamEvaluator.Run(m, ids, p, new StreamOptions
            {
                Threads = threads, SegmentLength = segment, Prefix = prefix, KeptSnapshots = outDir != null ? 120 : 0,
                Progress = progress == null ? null : new SyncProgress<long>(t => progress.Report(((int)t, ids.Length))),
            }));
            results.Add(r);
            if (!json) Cli.Err.MarkupLine($"[grey]{Markup.Escape(p.ToString())}: PPL {r.Ppl:F4}, {r.TokensPerSecond:F0} tok/s[/]");
        }
        if (csv != null) WriteCsv(csv, ids, results);
        if (outDir != null) WriteComparison(outDir, Path.GetFileName(path), Path.GetFileName(file), results, segment);
        if (json)
        {
            var objects = results.Select(Json).ToList();
            if (policies.Count == 1) Cli.WriteJson(objects[0]); else Cli.WriteJson(new { Model = Path.GetFileName(path), File = Path.GetFileName(file), Runs = objects });
            return 0;
        }
        Console.Out.WriteLine(Table(results));
        return 0;
    }

    /// <summary>A cache whose span exceeds the trained context asks for positions the model never saw.</summary>
    private static void CheckSpan(CachePolicy p, Model m, bool strict)
    {
        if (p.Kind is CacheKind.Full or CacheKind.Shift) return;
        int span = p.Kind == CacheKind.Recompute ? p.Window : p.IsEviction ? p.MaxLayerBudget(m.Config.Layers) + 1 : p.Sinks + p.Window + 1;
        if (span <= m.Config.ContextLength) return;
        string msg = $"cache policy {p}: {span} positions exceed the model's context length {m.Config.ContextLength}";
        if (strict) throw new ArgumentException(msg, "--cache");
        Cli.Warn(msg);
    }

    private static object Json(StreamResult r) => new
    {
        r.Policy,
        r.Ppl,
        r.Tokens,
        r.Seconds,
        r.TokensPerSecond,
        r.PeakRssBytes,
        RssBytesAt10k = r.RssAt(10_000),
        TokensPerSecondFirst10Pct = r.SpeedBetween(0, 0.1),
        TokensPerSecondLast10Pct = r.SpeedBetween(0.9, 1),
        r.PplBySegment,
        Samples = r.Samples,
    };

    private static string Table(List<StreamResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| policy | tokens | PPL | PPL of the last segment | tok/s | peak RSS of the process (MB) | KV cache at end (KB) |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (StreamResult r in results)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Policy} | {r.Tokens:N0} | {r.Ppl:F3} | {r.PplBySegment[^1]:F3} | {r.TokensPerSecond:F0} | {r.PeakRssBytes / 1e6:F0} | {r.Samples[^1].CacheBytes / 1024.0:F0} |");
        return sb.ToString();
    }

    private static void WriteCsv(string csv, int[] ids, List<StreamResult> results)
    {
        var sb = new StringBuilder("index,token");
        foreach (StreamResult r in results) sb.Append(CultureInfo.InvariantCulture, $",nll_{r.Policy}");
        sb.AppendLine();
        int rows = results.Max(r => r.Nll.Length);
        for (int i = 0; i < rows; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{i + 1},{ids[i + 1]}");
            foreach (StreamResult r in results) sb.Append(CultureInfo.InvariantCulture, $",{(i < r.Nll.Length ? r.Nll[i].ToString("R", CultureInfo.InvariantCulture) : "")}");
            sb.AppendLine();
        }
        AtomicFile.WriteAllText(csv, sb.ToString());
    }

    private static string FileSafe(string policy) => new(policy.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray());

    private static void WriteComparison(string dir, string model, string file, List<StreamResult> results, int segment)
    {
        int step = Math.Max(1, (int)(results.Max(r => r.Tokens) / 200));
        byte[] ppl = Charts.Curves($"running perplexity — {model} on {file}", "tokens", "running PPL",
            results.Select(r => { var (x, y) = r.RunningPpl(step); return (r.Policy, x, y); }), logY: true);
        byte[] seg = Charts.Curves($"perplexity of each {segment:N0}-token segment", "tokens", "segment PPL",
            results.Select(r => (r.Policy, r.PplBySegment.Select((_, i) => (double)Math.Min(r.Tokens - 1, (long)(i + 1) * segment)).ToArray(), r.PplBySegment)), logY: true);
        byte[] mem = Charts.Curves("KV cache held against tokens", "tokens", "KV cache (KB)",
            results.Select(r => (r.Policy, r.Samples.Select(s => (double)s.Tokens).ToArray(), r.Samples.Select(s => s.CacheBytes / 1024.0).ToArray())));
        string table = $"Stream of {results[0].Tokens:N0} tokens of {file} through {model}.\n\n" + Table(results);
        string resultsJson = System.Text.Json.JsonSerializer.Serialize(new { Model = model, File = file, Runs = results.Select(Json) }, ReportJson.Options);
        var files = new Dictionary<string, byte[]>
        {
            ["table.md"] = Encoding.UTF8.GetBytes(table),
            ["results.json"] = Encoding.UTF8.GetBytes(resultsJson),
            ["running_ppl.png"] = ppl,
            ["segment_ppl.png"] = seg,
            ["memory.png"] = mem,
        };
        foreach (StreamResult r in results.Where(r => r.Kept.Count > 0))
            files[$"kept_{FileSafe(r.Policy)}.png"] = Charts.Points($"what {r.Policy} keeps (layer 0, KV head 0)", "tokens fed", "stream position of a kept token",
                r.Kept.SelectMany(k => k.Positions.Select(p => ((double)k.Tokens, (double)p))).ToArray());
        AtomicFile.WriteDirectory(dir, files);
    }
}
