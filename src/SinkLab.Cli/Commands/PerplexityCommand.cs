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
        var cmd = new Command("perplexity", "Perplexity over a text file, by llama.cpp's protocol") { model, file, ctx, chunks, threads, tok, json };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(file)!, r.GetValue(ctx),
            r.GetValue(chunks), Cli.CheckThreads(r.GetValue(threads)), r.GetValue(json))));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, string file, int ctx, int? chunks, int threads, bool json)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"text file not found: {file}", file);
        if (ctx < 8) throw new ArgumentOutOfRangeException("--ctx", ctx, "must be at least 8");
        if (chunks is <= 0) throw new ArgumentOutOfRangeException("--chunks", chunks, "must be positive");
        using Model m = Cli.LoadModel(path, tokenizer);
        if (ctx > m.Config.ContextLength)
            Cli.Warn($"--ctx {ctx} is longer than the model's context length {m.Config.ContextLength}");
        string text = File.ReadAllText(file);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        PerplexityResult result = null!;
        Cli.WithProgress("perplexity", progress => result = Perplexity.Run(m, text, ctx, chunks, threads, progress));
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
            });
            return 0;
        }
        Console.Out.WriteLine($"PPL = {result.Ppl:F4} +/- {result.PplStdErr:F4} ({result.Chunks} chunks of {ctx}, {result.ScoredTokens} tokens scored, {seconds:F1} s)");
        return 0;
    }
}
