using System.CommandLine;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tokenization;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab generate MODEL -p TEXT -n N</c>: sample a continuation, streaming it as it comes.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var n = new Option<int>("--tokens", "-n") { Description = "Tokens to generate", DefaultValueFactory = _ => 128 };
        var temp = new Option<float>("--temp") { Description = "Temperature (0 = greedy)", DefaultValueFactory = _ => 0f };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var topK = new Option<int>("--top-k") { Description = "Top-k (0 = off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Top-p (1 = off)", DefaultValueFactory = _ => 1f };
        var minP = new Option<float>("--min-p") { Description = "Min-p (0 = off)", DefaultValueFactory = _ => 0f };
        var repeat = new Option<float>("--repeat-penalty") { Description = "Repetition penalty (1 = off)", DefaultValueFactory = _ => 1f };
        var repeatN = new Option<int>("--repeat-last-n") { Description = "Window of the repetition penalty", DefaultValueFactory = _ => 64 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating after EOS" };
        var cache = new Option<string>("--cache") { Description = "KV cache policy: full (stops at the context), sink:S+W or window:W (endless), shift:K", DefaultValueFactory = _ => "full" };
        var prefixOpt = ActQuantOptions.PrefixOption();
        var kvF16 = Cli.KvF16Option();
        var cmd = new Command("generate", "Generate text from a prompt")
        {
            model, prompt, n, temp, seed, topK, topP, minP, repeat, repeatN, ignoreEos, cache, threads, tok, json, prefixOpt, kvF16,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            var sampling = new SamplerOptions
            {
                Temperature = r.GetValue(temp), Seed = r.GetValue(seed), TopK = r.GetValue(topK), TopP = r.GetValue(topP),
                MinP = r.GetValue(minP), RepeatPenalty = r.GetValue(repeat), RepeatLastN = r.GetValue(repeatN),
            };
            CachePolicy policy = CachePolicy.Parse(r.GetValue(cache)!);
            if (!policy.IsCache) throw new ArgumentException($"--cache {policy}: recompute is an evaluation baseline, not a cache for generation");
            return Run(r.GetValue(model)!, r.GetValue(tok), r.GetValue(prompt)!, r.GetValue(n), sampling, policy,
                Cli.CheckThreads(r.GetValue(threads)), r.GetValue(ignoreEos), r.GetValue(json), r.GetValue(prefixOpt), r.GetValue(kvF16));
        }));
        return cmd;
    }

    private static int Run(string path, string? tokenizer, string prompt, int count, SamplerOptions sampling, CachePolicy policy, int threads, bool ignoreEos, bool json, string? prefixFile, bool kvF16)
    {
        if (count < 0) throw new ArgumentOutOfRangeException("--tokens", count, "must be ≥ 0");
        sampling.Validate();
        using Model m = Cli.LoadModel(path, tokenizer);
        int[]? prefix = prefixFile == null ? null : Prefix.Load(prefixFile, m.Tokenizer, m.Config.VocabSize);
        int[] ids = Prefix.Continue(m.Tokenizer.Encode(prompt), prefix, m.Tokenizer.BosId);
        if (ids.Length == 0) throw new ArgumentException("the prompt encodes to no tokens", "--prompt");
        int k = prefix?.Length ?? 0;
        if (policy.Kind == CacheKind.Full && k + ids.Length >= m.Config.ContextLength)
            throw new ArgumentException($"the prompt has {ids.Length} tokens{(k > 0 ? $" after a prefix of {k}" : "")}; the context holds {m.Config.ContextLength} (a streaming --cache such as sink:4+252 has no limit)", "--prompt");
        using var session = new InferenceSession(m, new SessionOptions { Threads = threads, Cache = policy, Prefix = prefix, HalfPrecisionKv = kvF16 });
        var sampler = new Sampler(m.Config.VocabSize, sampling);
        var text = new TokenTextStream();
        if (!json) Console.Out.Write(prompt);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        List<int> all = Generator.Generate(session, ids, count, sampler, onToken: json ? null : t =>
        {
            Console.Out.Write(text.Next(m.Tokenizer.TokenBytes(t)));
            Console.Out.Flush();
        }, ignoreEos: ignoreEos);
        double seconds = sw.Elapsed.TotalSeconds;
        int generated = all.Count - ids.Length;
        if (json)
        {
            Cli.WriteJson(new
            {
                TokenIds = all,
                Text = m.Tokenizer.Decode(all.ToArray()),
                PromptTokens = ids.Length,
                GeneratedTokens = generated,
                Seconds = seconds,
                Cache = policy.ToString(),
                CacheTokens = session.Ring.Live,
            });
        }
        else
        {
            Console.Out.WriteLine();
            Cli.Err.MarkupLine($"[grey]{generated} tokens in {seconds:F2} s ({generated / Math.Max(seconds, 1e-9):F0} tok/s)[/]");
        }
        return 0;
    }
}
