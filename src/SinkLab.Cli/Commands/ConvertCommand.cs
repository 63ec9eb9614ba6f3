using System.CommandLine;
using SinkLab.Formats;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab convert IN.bin --tokenizer TOK.bin -o OUT.gguf</c>: llama2.c checkpoint → GGUF.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "llama2.c checkpoint (.bin)" };
        var tok = new Option<string>("--tokenizer") { Description = "llama2.c tokenizer file (tokenizer.bin / tok512.bin)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var json = Cli.JsonOption();
        var cmd = new Command("convert", "Convert a llama2.c checkpoint to GGUF (as llama.cpp's converter writes it)") { input, tok, output, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string inPath = r.GetValue(input)!, tokPath = r.GetValue(tok)!, outPath = r.GetValue(output)!;
            foreach (string p in new[] { inPath, tokPath })
                if (!File.Exists(p)) throw new FileNotFoundException($"file not found: {p}", p);
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir != null && !Directory.Exists(dir)) throw new DirectoryNotFoundException($"output directory does not exist: {dir}");
            Llama2cCheckpoint.ToGguf(inPath, tokPath).Write(outPath);
            long bytes = new FileInfo(outPath).Length;
            if (r.GetValue(json)) Cli.WriteJson(new { Input = inPath, Output = outPath, Bytes = bytes });
            else Cli.Err.MarkupLine($"wrote [green]{Markup.Escape(outPath)}[/] ({bytes:N0} bytes)");
            return 0;
        }));
        return cmd;
    }
}
