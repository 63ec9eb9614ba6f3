using System.CommandLine;
using SinkLab.Evaluation;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab perplexity MODEL -f FILE --ctx N</c>: llama.cpp's perplexity protocol.</summary>
internal static class PerplexityCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var file = new Option<string>("--file", "-f") { Description = "Text file to evaluate", Required = true };
        var ctx = new Option<int>("--ctx", "-c") { Description = "Chunk length in tokens", DefaultValueFactory = _ => 512 };
        var chunks = new Option<int?>("--chunks") { Description = "Stop after this many chunks (default: all)" };
        var act = ActQuantOptions.Create();
        var prefix = ActQuantOptions.PrefixOption();
        var kvF16 = Cli.KvF16Option();
        var cmd = new Command("perplexity", "Perplexity over a text file, by llama.cpp's protocol") { model, file, ctx, chunks, threads, tok, json, prefix, kvF16 };
        act.AddTo(cmd);
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(file)!, r.GetValue(ctx),
            r.GetValue(chunks), Cli.CheckThreads(r.GetValue(threads)), r.GetValue(json), act.Read(r), r.GetValue(prefix), r.GetValue(kvF16))));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, string file, int ctx, int? chunks, int threads, bool json, ActQuantRequest act, string? prefixFile, bool kvF16)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"text file not found: {file}", file);
        if (ctx < 8) throw new ArgumentOutOfRangeException("--ctx", ctx, "must be at least 8");
        if (chunks is <= 0) throw new ArgumentOutOfRangeException("--chunks", chunks, "must be positive");
        using Model m = Cli.LoadModel(path, tokenizer);
        if (ctx > m.Config.ContextLength)
            Cli.Warn($"--ctx {ctx} is longer than the model's context length {m.Config.ContextLength}");
        string text = File.ReadAllText(file);
        int[]? prefix = prefixFile == null ? null : Inference.Prefix.Load(prefixFile, m.Tokenizer, m.Config.VocabSize);
        if (prefix != null && prefix.Length + ctx - 1 > Math.Max(ctx, m.Config.ContextLength))
            throw new ArgumentException($"the prefix has {prefix.Length} tokens; with chunks of {ctx} that is {prefix.Length + ctx - 1} positions, beyond the model's context of {m.Config.ContextLength}", "--prefix");
        var calibration = act.Calibrate(m, prefix);
        var setup = new PerplexitySetup { Prefix = prefix, Hooks = Hooks.ActivationQuantization.For(act.Mode, m.Config, act.Bits, calibration), HalfPrecisionKv = kvF16 };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        PerplexityResult result = null!;
        Cli.WithProgress("perplexity", progress => result = Perplexity.Run(m, text, ctx, chunks, threads, progress, setup));
        double seconds = sw.Elapsed.TotalSeconds;
        if (json)
        {
            Cli.WriteJson(new
            {
                result.Ppl,
                PplStderr = result.PplStdErr,
                result.Chunks,
                result.Tokens,
                result.ScoredTokens,
                Ctx = result.Context,
                result.RunningPpl,
                Seconds = seconds,
                TokensPerSecond = (double)result.Chunks * ctx / seconds,
                ActQuant = act.Mode.ToString().ToLowerInvariant(),
                ActBits = act.Mode == Hooks.ActQuantMode.None ? (int?)null : act.Bits,
                PrefixTokens = prefix?.Length ?? 0,
            });
            return 0;
        }
        string extra = (act.Mode == Hooks.ActQuantMode.None ? "" : $", activations {act.Mode.ToString().ToLowerInvariant()} INT{act.Bits}")
                       + (prefix == null ? "" : $", prefix of {prefix.Length} tokens");
        Console.Out.WriteLine($"PPL = {result.Ppl:F4} +/- {result.PplStdErr:F4} ({result.Chunks} chunks of {ctx}, {result.ScoredTokens} tokens scored{extra}, {seconds:F1} s)");
        return 0;
    }
}
