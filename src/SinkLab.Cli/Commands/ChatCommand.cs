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
        var system = new Option<string?>("--system") { Description = "System message opening the conversation" };
        var template = new Option<string?>("--template")
        {
            Description = "Chat template: a Jinja file, or 'plain' for USER:/ASSISTANT: turns (default: the model's tokenizer.chat_template, else plain)",
        };
        var vars = new Option<string[]>("--template-var")
        {
            Description = "Template variable NAME=VALUE (true/false/numbers as such, e.g. enable_thinking=false); repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var showPrompt = new Option<bool>("--show-prompt") { Description = "Print the text fed before each reply on stderr" };
        var prefixOpt = Commands.ActQuantOptions.PrefixOption();
        var cmd = new Command("chat", "Multi-turn chat over a streaming KV cache (one message per line on stdin; empty line or EOF ends)")
        {
            model, cache, n, temp, seed, repeat, system, template, vars, showPrompt, threads, tok, prefixOpt,
        };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            CachePolicy policy = CachePolicy.Parse(r.GetValue(cache)!);
            if (!policy.IsCache) throw new ArgumentException($"--cache {policy}: recompute is an evaluation baseline, not a cache for chat");
            if (r.GetValue(n) < 1) throw new ArgumentOutOfRangeException("--tokens", r.GetValue(n), "must be ≥ 1");
            var sampling = new SamplerOptions { Temperature = r.GetValue(temp), Seed = r.GetValue(seed), RepeatPenalty = r.GetValue(repeat) };
            sampling.Validate();
            using Model m = Cli.LoadModel(r.GetValue(model)!, r.GetValue(tok));
            ChatFormat format = Format(m, r.GetValue(template), r.GetValue(vars) ?? []) with { System = r.GetValue(system) };
            int[]? prefix = r.GetValue(prefixOpt) is string pf ? Prefix.Load(pf, m.Tokenizer, m.Config.VocabSize) : null;
            using var chat = new StreamingChat(m, policy, Cli.CheckThreads(r.GetValue(threads)), format, prefix);
            if (format.Template == null && r.GetValue(template) == null)
                Cli.Warn("the model has no chat template (tokenizer.chat_template); using plain USER:/ASSISTANT: turns");
            var sampler = new Sampler(m.Config.VocabSize, sampling);
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
            bool tty = !Console.IsInputRedirected;
            while (!cancel.IsCancellationRequested)
            {
                if (tty) Console.Out.Write("> ");
                string? line = Console.In.ReadLine();
                if (string.IsNullOrWhiteSpace(line)) break;
                IEnumerable<ChatPiece> reply = chat.ReplyPieces(line, r.GetValue(n), sampler, cancel.Token);
                if (r.GetValue(showPrompt)) Console.Error.WriteLine($"[prompt] {System.Text.Json.JsonSerializer.Serialize(chat.LastPromptText)}");
                foreach (ChatPiece piece in reply)
                {
                    // Reasoning (harmony's analysis channel) goes to stderr, so stdout holds only the answers.
                    TextWriter to = piece.IsReasoning ? Console.Error : Console.Out;
                    to.Write(piece.Text);
                    to.Flush();
                }
                Console.Out.WriteLine();
                KvRing ring = chat.Session.Ring;
                Cli.Err.MarkupLine($"[grey]({chat.LastEnd.ToString().ToLowerInvariant()}; cache {ring.Live} tokens of {ring.Capacity} slots, {ring.Position} fed, {ring.Evicted} evicted)[/]");
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>The format --template and --template-var ask for.</summary>
    private static ChatFormat Format(Model m, string? template, string[] vars)
    {
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (string v in vars)
        {
            int eq = v.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"'{v}' is not NAME=VALUE", "--template-var");
            string value = v[(eq + 1)..];
            variables[v[..eq]] = value switch
            {
                "true" or "True" => true,
                "false" or "False" => false,
                "none" or "None" => null,
                _ when long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long l) => l,
                _ => value,
            };
        }
        if (template == "plain")
        {
            if (variables.Count > 0) throw new ArgumentException("template variables need a template, not 'plain'", "--template-var");
            return new ChatFormat();
        }
        ChatFormat format = template == null ? ChatFormat.ForModel(m)
            : File.Exists(template) ? new ChatFormat { Template = Templates.ChatTemplate.Parse(File.ReadAllText(template)) }
            : throw new ArgumentException($"no such file: {template} (give a Jinja file or 'plain')", "--template");
        if (variables.Count > 0 && format.Template == null) throw new ArgumentException("the model has no chat template for these variables; give one with --template", "--template-var");
        return format with { TemplateVariables = variables };
    }
}
