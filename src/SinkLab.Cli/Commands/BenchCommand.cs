using System.CommandLine;
using System.Diagnostics;
using SinkLab.Inference;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab bench MODEL</c>: prompt processing and generation speed, measured like llama-bench
/// (random tokens, an empty cache for each repetition, one warm-up run first).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var prompt = new Option<int>("--prompt") { Description = "Prompt tokens processed in one batch (0 = skip)", DefaultValueFactory = _ => 128 };
        var gen = new Option<int>("--gen") { Description = "Tokens generated one at a time (0 = skip)", DefaultValueFactory = _ => 128 };
        var reps = new Option<int>("--reps", "-r") { Description = "Repetitions", DefaultValueFactory = _ => 5 };
        var cmd = new Command("bench", "Measure prompt-processing and generation speed") { model, prompt, gen, reps, threads, tok, json };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(prompt), r.GetValue(gen),
            r.GetValue(reps), Cli.CheckThreads(r.GetValue(threads)), r.GetValue(json))));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, int prompt, int gen, int reps, int threads, bool json)
    {
        if (prompt < 0) throw new ArgumentOutOfRangeException("--prompt", prompt, "must be ≥ 0");
        if (gen < 0) throw new ArgumentOutOfRangeException("--gen", gen, "must be ≥ 0");
        if (reps < 1) throw new ArgumentOutOfRangeException("--reps", reps, "must be ≥ 1");
        using Model m = Cli.LoadModel(path, tokenizer);
        int need = Math.Max(prompt, gen);
        if (need > m.Config.ContextLength)
            throw new ArgumentException($"{need} tokens do not fit the model's context of {m.Config.ContextLength}", prompt >= gen ? "--prompt" : "--gen");
        using var session = new InferenceSession(m, new SessionOptions { Threads = threads, ContextSize = Math.Max(need, 1), BatchSize = Math.Max(prompt, 1) });
        var rng = new Random(1234);
        int[] tokens = new int[need];
        for (int i = 0; i < need; i++) tokens[i] = rng.Next(m.Config.VocabSize);

        (double Mean, double Std)? pp = prompt > 0 ? Measure(reps, () => { session.Reset(); session.Prefill(tokens.AsSpan(0, prompt)); }, prompt) : null;
        (double Mean, double Std)? tg = gen > 0 ? Measure(reps, () =>
        {
            session.Reset();
            for (int i = 0; i < gen; i++) session.Decode(tokens[i]);
        }, gen) : null;

        if (json)
        {
            Cli.WriteJson(new
            {
                Model = path,
                Threads = threads,
                Repetitions = reps,
                PromptTokens = prompt,
                GenTokens = gen,
                PromptTokensPerSecond = pp?.Mean,
                PromptTokensPerSecondStd = pp?.Std,
                GenerationTokensPerSecond = tg?.Mean,
                GenerationTokensPerSecondStd = tg?.Std,
                ProcessorCount = Environment.ProcessorCount,
                Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            });
            return 0;
        }
        var table = new Table().AddColumn("test").AddColumn("threads").AddColumn("tokens/s");
        if (pp is { } p) table.AddRow($"pp{prompt}", threads.ToString(), $"{p.Mean:F0} ± {p.Std:F0}");
        if (tg is { } g) table.AddRow($"tg{gen}", threads.ToString(), $"{g.Mean:F0} ± {g.Std:F0}");
        AnsiConsole.Write(table);
        return 0;
    }

    private static (double Mean, double Std) Measure(int reps, Action run, int tokens)
    {
        run(); // warm-up (JIT, caches)
        var rates = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            rates[r] = tokens / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        double mean = rates.Average();
        double std = reps > 1 ? Math.Sqrt(rates.Sum(x => (x - mean) * (x - mean)) / (reps - 1)) : 0;
        return (mean, std);
    }
}
