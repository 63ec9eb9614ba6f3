using System.CommandLine;
using SinkLab.Gguf;
using SinkLab.Models;
using Spectre.Console;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab quantize IN.gguf -o OUT.gguf --type Q4_K_M</c>: re-encode a model with llama.cpp's per-tensor choices.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "GGUF model to quantize (F32/F16/BF16 weights)" };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var type = new Option<string>("--type") { Description = $"Recipe: {string.Join(", ", QuantRecipe.All.Select(r => r.Name))}", Required = true };
        var requant = new Option<bool>("--allow-requantize") { Description = "Accept an already quantized input (precision is lost twice)" };
        var imatrix = new Option<string?>("--imatrix") { Description = "Importance matrix from llama-imatrix (GGUF format): weights each column's rounding error as llama-quantize does" };
        var json = Cli.JsonOption();
        var cmd = new Command("quantize", "Quantize a GGUF model, choosing each tensor's type as llama-quantize does") { input, output, type, requant, imatrix, json };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            QuantRecipe recipe = QuantRecipe.Parse(r.GetValue(type)!);
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!;
            if (!File.Exists(inPath)) throw new FileNotFoundException($"file not found: {inPath}", inPath);
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir != null && !Directory.Exists(dir)) throw new DirectoryNotFoundException($"output directory does not exist: {dir}");
            if (Path.GetFullPath(outPath) == Path.GetFullPath(inPath)) throw new ArgumentException("--output must differ from the input", "--output");
            string? imPath = r.GetValue(imatrix);
            if (imPath != null && !File.Exists(imPath)) throw new FileNotFoundException($"file not found: {imPath}", imPath);
            ImportanceMatrix? importance = imPath == null ? null : ImportanceMatrix.Load(imPath);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            IReadOnlyList<QuantizedTensor> plan;
            using (GgufFile source = GgufFile.Open(inPath))
                plan = ModelQuantizer.Quantize(source, recipe, outPath, r.GetValue(requant), importance);
            long inBytes = new FileInfo(inPath).Length, outBytes = new FileInfo(outPath).Length;
            foreach (var g in plan.Where(q => q.Fallback != null).GroupBy(q => q.Fallback))
                Cli.Warn(g.Count() == 1 ? $"{g.First().Name}: {g.Key}" : $"{g.First().Name} and {g.Count() - 1} more: {g.Key}");
            var counts = plan.GroupBy(q => q.To).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(), g => g.Count());
            if (r.GetValue(json))
            {
                Cli.WriteJson(new
                {
                    Input = inPath, Output = outPath, Recipe = recipe.Name, Imatrix = imPath, InputBytes = inBytes, OutputBytes = outBytes,
                    Seconds = sw.Elapsed.TotalSeconds, TensorTypes = counts, Fallbacks = plan.Count(q => q.Fallback != null),
                    Tensors = plan.Select(q => new { q.Name, From = q.From.ToString(), To = q.To.ToString(), q.Fallback }),
                });
                return 0;
            }
            Cli.Err.MarkupLine($"wrote [green]{Markup.Escape(outPath)}[/]: {recipe.Name}, {inBytes / 1e6:F2} MB → {outBytes / 1e6:F2} MB, " +
                               $"{sw.Elapsed.TotalSeconds:F1} s; tensors: {string.Join(", ", counts.Select(kv => $"{kv.Value} {kv.Key}"))}");
            return 0;
        }));
        return cmd;
    }
}
