using System.CommandLine;
using SinkLab.Formats;
using SinkLab.Formats.HuggingFace;
using SinkLab.Gguf;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab convert DIR -o OUT.gguf [--type T]</c> (Hugging Face folder) or
/// <c>sinklab convert IN.bin --tokenizer TOK.bin -o OUT.gguf</c> (llama2.c checkpoint) → GGUF as llama.cpp's converters write it.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "Hugging Face checkpoint folder (config.json + *.safetensors + tokenizer), or a llama2.c checkpoint (.bin)" };
        var tok = new Option<string?>("--tokenizer") { Description = "llama2.c tokenizer file (tokenizer.bin / tok512.bin), for a llama2.c checkpoint" };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var type = new Option<string?>("--type")
        {
            Description = "Hugging Face input: matrix type F32, F16, BF16 or Q8_0 (default: BF16 for bf16 checkpoints, else F16, as llama.cpp), " +
                          "or a quantization recipe (Q4_K_M, Q5_K_M, …) applied after conversion",
        };
        var json = Cli.JsonOption();
        var cmd = new Command("convert", "Convert a Hugging Face checkpoint or a llama2.c checkpoint to GGUF (as llama.cpp's converters write it)") { input, tok, output, type, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!;
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir != null && !Directory.Exists(dir)) throw new DirectoryNotFoundException($"output directory does not exist: {dir}");
            IReadOnlyList<string> notes = [];
            string what;
            if (Directory.Exists(inPath))
            {
                (GgmlType? direct, QuantRecipe? recipe) = ParseType(r.GetValue(type));
                string target = recipe == null ? outPath : outPath + $".f16-{Guid.NewGuid():N}.tmp";
                try
                {
                    HfConversion c = HfConverter.Convert(inPath, target, recipe != null ? GgmlType.F16 : direct);
                    notes = c.Notes;
                    what = $"{c.Architecture}, {c.Tensors} tensors, {recipe?.Name ?? c.Type.ToString()}";
                    if (recipe != null)
                        using (GgufFile f16 = GgufFile.Open(target)) ModelQuantizer.Quantize(f16, recipe, outPath);
                }
                finally
                {
                    if (recipe != null && File.Exists(target)) File.Delete(target);
                }
            }
            else
            {
                if (!File.Exists(inPath)) throw new FileNotFoundException($"file or folder not found: {inPath}", inPath);
                string tokPath = r.GetValue(tok) ?? throw new ArgumentException("a llama2.c checkpoint needs --tokenizer (its tokenizer.bin)", "--tokenizer");
                if (!File.Exists(tokPath)) throw new FileNotFoundException($"file not found: {tokPath}", tokPath);
                Llama2cCheckpoint.ToGguf(inPath, tokPath).Write(outPath);
                what = "llama2.c checkpoint";
            }
            long bytes = new FileInfo(outPath).Length;
            if (r.GetValue(json)) Cli.WriteJson(new { Input = inPath, Output = outPath, Bytes = bytes, Model = what, Notes = notes });
            else
            {
                foreach (string n in notes) Cli.Err.MarkupLine($"note: {Markup.Escape(n)}");
                Cli.Err.MarkupLine($"wrote [green]{Markup.Escape(outPath)}[/] ({Markup.Escape(what)}, {bytes:N0} bytes)");
            }
            return 0;
        }));
        return cmd;
    }

    private static (GgmlType?, QuantRecipe?) ParseType(string? text)
    {
        if (text == null) return (null, null);
        string t = text.ToUpperInvariant();
        if (Enum.TryParse(t, out GgmlType g) && Array.IndexOf(HfConverter.DirectTypes, g) >= 0) return (g, null);
        QuantRecipe recipe = QuantRecipe.All.FirstOrDefault(q => q.Name == t)
            ?? throw new ArgumentException($"unknown type '{text}' (F32, F16, BF16, Q8_0, or a recipe: {string.Join(", ", QuantRecipe.All.Select(q => q.Name))})", "--type");
        return (null, recipe);
    }
}
