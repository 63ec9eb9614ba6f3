using System.CommandLine;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using SinkLab.Gguf;
using SinkLab.Kernels;
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
        var bandwidth = new Option<bool>("--bandwidth") { Description = "Also measure memory bandwidth (a large Span.CopyTo on the same threads) and report decode as weight bytes read per second against it" };
        var cmd = new Command("bench", "Measure prompt-processing and generation speed") { model, prompt, gen, reps, bandwidth, threads, tok, json };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(prompt), r.GetValue(gen),
            r.GetValue(reps), Cli.CheckThreads(r.GetValue(threads)), r.GetValue(bandwidth), r.GetValue(json))));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, int prompt, int gen, int reps, int threads, bool bandwidth, bool json)
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

        long weightBytes = SyntheticModel.WeightBytesPerToken(m);
        long? expertBytes = SyntheticModel.ActiveExpertBytesPerToken(m);
        double? copyBytesPerSecond = bandwidth ? CopyBandwidth(threads) : null;
        double? readBytesPerSecond = bandwidth ? ReadBandwidth(threads) : null;
        double? computeScaling = bandwidth && threads > 1 ? ComputeScaling(threads) : null;
        double? decodeBytesPerSecond = tg is { } tgv ? tgv.Mean * weightBytes : null;
        double? fraction = copyBytesPerSecond is double c && decodeBytesPerSecond is double d ? d / c : null;
        double? readFraction = readBytesPerSecond is double rd && decodeBytesPerSecond is double d2 ? d2 / rd : null;
        // Prefill arithmetic: 2 FLOPs per weight per token, plus causal attention (QKᵀ and AV: 2·dim·n(n+1) per layer).
        double? promptGflops = pp is { } ppv
            ? ppv.Mean / prompt * (2.0 * SyntheticModel.MatrixParametersPerToken(m) * prompt + 2.0 * m.Config.Dim * prompt * (prompt + 1.0) * m.Config.Layers) / 1e9
            : null;
        WeightMatrix probe = m.Weights.Layers[0].FfnUp ?? m.Weights.Layers[0].Experts!.Up[0];   // an expert's up projection in MoE models
        double? f32Gflops = pp != null && bandwidth ? MatMulProbe.Gflops(GgmlType.F32, probe.Rows, probe.Cols, prompt, threads) : null;
        double? typeGflops = pp != null && bandwidth && probe.Type != GgmlType.F32 ? MatMulProbe.Gflops(probe.Type, probe.Rows, probe.Cols, prompt, threads) : null;
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
                WeightBytesPerToken = weightBytes,
                ActiveExpertBytesPerToken = expertBytes,
                DecodeWeightBytesPerSecond = decodeBytesPerSecond,
                CopyBytesPerSecond = copyBytesPerSecond,
                BandwidthFraction = fraction,
                ReadBytesPerSecond = readBytesPerSecond,
                ReadBandwidthFraction = readFraction,
                ComputeScaling = computeScaling,
                PromptGflops = promptGflops,
                MatmulShape = pp != null && bandwidth ? $"{probe.Rows}x{probe.Cols}x{prompt}" : null,
                MatmulF32Gflops = f32Gflops,
                MatmulType = pp != null && bandwidth ? probe.Type.ToString() : null,
                MatmulTypeGflops = typeGflops,
                ProcessorCount = Environment.ProcessorCount,
                Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            });
            return 0;
        }
        var table = new Table().AddColumn("test").AddColumn("threads").AddColumn("tokens/s");
        if (pp is { } p) table.AddRow($"pp{prompt}", threads.ToString(), $"{p.Mean:F0} ± {p.Std:F0}");
        if (tg is { } g) table.AddRow($"tg{gen}", threads.ToString(), $"{g.Mean:F0} ± {g.Std:F0}");
        AnsiConsole.Write(table);
        if (fraction is double f)
            AnsiConsole.MarkupLine($"decode reads {decodeBytesPerSecond / 1e9:F2} GB/s of weights ({weightBytes / 1e6:F1} MB per token); Span.CopyTo on {threads} thread(s): " +
                                   $"{copyBytesPerSecond / 1e9:F2} GB/s, [bold]{f:P0}[/] of it; a read-only scan: {readBytesPerSecond / 1e9:F2} GB/s, [bold]{readFraction:P0}[/] of it");
        if (expertBytes is long eb)
            AnsiConsole.MarkupLine($"of the {weightBytes / 1e6:F1} MB a token reads, {eb / 1e6:F1} MB are the weights of the experts it is routed to ({m.Config.Block.Moe!.Used} of {m.Config.Block.Moe.Experts} per layer)");
        if (computeScaling is double cs)
            AnsiConsole.MarkupLine($"a vector multiply-add loop runs {cs:F2}× as fast on {threads} threads as on one (SIMD compute available to the threads)");
        if (promptGflops is double pg)
            AnsiConsole.MarkupLine($"prefill: {pg:F1} GFLOP/s" + (f32Gflops is double fg
                ? $"; float32 matmul {probe.Rows}×{probe.Cols}×{prompt}: {fg:F1} GFLOP/s" + (typeGflops is double tg2 ? $", {probe.Type}: {tg2:F1} GFLOP/s" : "")
                : ""));
        return 0;
    }

    /// <summary>Bytes per second read by <see cref="Span{T}.CopyTo"/> of a 256 MB buffer (far beyond the caches),
    /// split over <paramref name="threads"/> threads; the best of five copies.</summary>
    private static double CopyBandwidth(int threads)
    {
        const int size = 256 << 20;
        byte[] src = GC.AllocateUninitializedArray<byte>(size), dst = GC.AllocateUninitializedArray<byte>(size);
        new Random(1).NextBytes(src);
        src.AsSpan().CopyTo(dst);   // fault in every page first
        int chunk = size / threads;
        double best = 0;
        for (int r = 0; r < 5; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
                i => src.AsSpan(i * chunk, chunk).CopyTo(dst.AsSpan(i * chunk, chunk)));
            best = Math.Max(best, (double)chunk * threads / Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return best;
    }

    /// <summary>Bytes per second of a read-only SIMD sum over a 512 MB buffer split over <paramref name="threads"/>
    /// threads (best of five): the ceiling for a decode that reads each weight byte once, without the write traffic
    /// a copy adds.</summary>
    private static double ReadBandwidth(int threads)
    {
        const int count = 128 << 20;   // floats: 512 MB
        float[] a = GC.AllocateUninitializedArray<float>(count);
        a.AsSpan().Fill(1f);
        int chunk = count / threads;
        double best = 0, sink = 0;
        for (int r = 0; r < 5; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var sums = new float[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
                i => sums[i] = System.Numerics.Tensors.TensorPrimitives.Sum(a.AsSpan(i * chunk, chunk)));
            best = Math.Max(best, (double)chunk * threads * sizeof(float) / Stopwatch.GetElapsedTime(t0).TotalSeconds);
            sink += sums.Sum();
        }
        return sink > 0 ? best : 0;
    }

    /// <summary>Vector multiply-adds per second of a loop of eight independent 256-bit chains (no memory traffic:
    /// bound by the vector units' throughput, as the quantized kernels are) on <paramref name="threads"/> threads,
    /// divided by the same on one: how much SIMD compute the extra threads really add on this machine (a VM's vCPUs
    /// may be hyperthreads of one core). Best of three each.</summary>
    private static double ComputeScaling(int threads)
    {
        const long n = 20_000_000;
        static float Spin(long n)
        {
            Vector256<float> m = Vector256.Create(0.999999f), c = Vector256.Create(1e-7f);
            Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (long i = 0; i < n; i++)
            {
                a0 = Vector256.MultiplyAddEstimate(a0, m, c); a1 = Vector256.MultiplyAddEstimate(a1, m, c);
                a2 = Vector256.MultiplyAddEstimate(a2, m, c); a3 = Vector256.MultiplyAddEstimate(a3, m, c);
                a4 = Vector256.MultiplyAddEstimate(a4, m, c); a5 = Vector256.MultiplyAddEstimate(a5, m, c);
                a6 = Vector256.MultiplyAddEstimate(a6, m, c); a7 = Vector256.MultiplyAddEstimate(a7, m, c);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
        }
        double Rate(int t)
        {
            double best = 0, sink = 0;
            for (int r = 0; r < 3; r++)
            {
                var sums = new float[t];
                long t0 = Stopwatch.GetTimestamp();
                Parallel.For(0, t, new ParallelOptions { MaxDegreeOfParallelism = t }, i => sums[i] = Spin(n));
                best = Math.Max(best, t * n / Stopwatch.GetElapsedTime(t0).TotalSeconds);
                sink += sums.Sum();
            }
            return double.IsNaN(sink) ? 0 : best;
        }
        return Rate(threads) / Rate(1);
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
