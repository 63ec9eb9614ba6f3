using System.CommandLine;
using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab chat MODEL --cache sink:4+W</c>: multi-turn chat on stdin/stdout over a streaming cache.</summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var threads = Cli.ThreadsOption();
        var tok = Cli.TokenizerOption();
        var cache = new Option<string>("--cache") { Description = "KV cache policy (sink:S+W or window:W keep the chat going for ever)", DefaultValueFactory = _ => "sink:4+508" };
        var n = new Option<int>("--tokens", "-n") { Description = "Most tokens per reply", DefaultValueFactory = _ => 128 };
        var temp = new Option<float>("--temp") { Description = "Temperature (0 = greedy)", DefaultValueFactory = _ => 0f };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var repeat = new Option<float>("--repeat-penalty") { Description = "Repetition penalty (1 = off)", DefaultValueFactory = _ => 1.1f };
        var cmd = new Command("chat", "Multi-turn chat over a streaming KV cache (one message per line on stdin; empty line or EOF ends)")
        {
            model, cache, n, temp, seed, repeat, threads, tok,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            CachePolicy policy = CachePolicy.Parse(r.GetValue(cache)!);
            if (!policy.IsCache) throw new ArgumentException($"--cache {policy}: recompute is an evaluation baseline, not a cache for chat");
            if (r.GetValue(n) < 1) throw new ArgumentOutOfRangeException("--tokens", r.GetValue(n), "must be ≥ 1");
            var sampling = new SamplerOptions { Temperature = r.GetValue(temp), Seed = r.GetValue(seed), RepeatPenalty = r.GetValue(repeat) };
            sampling.Validate();
            using Model m = Cli.LoadModel(r.GetValue(model)!, r.GetValue(tok));
            using var chat = new StreamingChat(m, policy, Cli.CheckThreads(r.GetValue(threads)));
            var sampler = new Sampler(m.Config.VocabSize, sampling);
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
            bool tty = !Console.IsInputRedirected;
            while (!cancel.IsCancellationRequested)
            {
                if (tty) Console.Out.Write("> ");
                string? line = Console.In.ReadLine();
                if (string.IsNullOrWhiteSpace(line)) break;
                foreach (string piece in chat.Reply(line, r.GetValue(n), sampler, cancel.Token))
                {
                    Console.Out.Write(piece);
                    Console.Out.Flush();
                }
                Console.Out.WriteLine();
                KvRing ring = chat.Session.Ring;
                Cli.Err.MarkupLine($"[grey]({chat.LastEnd.ToString().ToLowerInvariant()}; cache {ring.Live} tokens of {ring.Capacity} slots, {ring.Position} fed, {ring.Evicted} evicted)[/]");
            }
            return 0;
        }));
        return cmd;
    }
}
