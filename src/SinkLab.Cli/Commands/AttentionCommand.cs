using System.CommandLine;
using SinkLab.Analysis;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Reports;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab attention MODEL -p TEXT --layer L --head H --out FILE.png</c>: one head's pattern.</summary>
internal static class AttentionCommand
{
    public static Command Create()
    {
        var model = Cli.ModelArgument();
        var json = Cli.JsonOption();
        var tok = Cli.TokenizerOption();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to run", Required = true };
        var layer = new Option<int>("--layer", "-l") { Description = "Layer", Required = true };
        var head = new Option<int>("--head") { Description = "Head", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "PNG file to write", Required = true };
        var cmd = new Command("attention", "Draw one head's attention pattern on a text") { model, prompt, layer, head, output, tok, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string outPath = r.GetValue(output)!;
            int l = r.GetValue(layer), h = r.GetValue(head);
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir != null && !Directory.Exists(dir)) throw new DirectoryNotFoundException($"--out: directory '{dir}' does not exist");
            using Model m = Cli.LoadModel(r.GetValue(model)!, r.GetValue(tok));
            if (l < 0 || l >= m.Config.Layers) throw new ArgumentOutOfRangeException("--layer", l, $"the model has layers 0..{m.Config.Layers - 1}");
            if (h < 0 || h >= m.Config.Heads) throw new ArgumentOutOfRangeException("--head", h, $"the model has heads 0..{m.Config.Heads - 1}");
            int[] ids = m.Tokenizer.Encode(r.GetValue(prompt)!);
            if (ids.Length > m.Config.ContextLength) throw new ArgumentException($"the text has {ids.Length} tokens; the context holds {m.Config.ContextLength}", "--prompt");
            using var session = new InferenceSession(m, new SessionOptions { ContextSize = ids.Length, BatchSize = ids.Length });
            var cache = session.RunWithCache(ids, n => n == $"blocks.{l}.attn.hook_pattern");
            float[][] pattern = Inspector.PatternOf(cache, l, h);
            double alpha = Enumerable.Range(0, ids.Length).Average(t => pattern[t][0]);
            var hp = new HeadPattern(l, h, alpha, ids.Select(m.Tokenizer.TokenText).ToArray(), pattern);
            AtomicFile.WriteAllBytes(outPath, Charts.Pattern(hp));
            if (r.GetValue(json)) Cli.WriteJson(new { Output = outPath, Layer = l, Head = h, Tokens = hp.Tokens, AlphaFirst = alpha, Pattern = pattern });
            else Cli.Err.MarkupLine($"wrote [green]{Markup.Escape(outPath)}[/] ({ids.Length} tokens, α_first = {alpha:F3})");
            return 0;
        }));
        return cmd;
    }
}
