using System.CommandLine;
using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab synth --shape NAME -o FILE.gguf --type T</c>: a random-weight model of a realistic shape.</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = $"Shape: {string.Join(", ", SyntheticModel.Shapes.Select(s => $"{s.Name} ({s.Parameters / 1e6:F0}M)"))}", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var type = new Option<string>("--type") { Description = "Matrix type: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K", DefaultValueFactory = _ => "Q8_0" };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var cmd = new Command("synth", "Write a random-weight Llama model of a realistic shape (for speed measurements without downloads)") { shape, output, type, seed };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            SyntheticShape s = SyntheticModel.Shape(r.GetValue(shape)!);
            string name = r.GetValue(type)!.ToUpperInvariant();
            if (!Enum.TryParse(name, out GgmlType t) || !Enum.IsDefined(t))
                throw new ArgumentException($"unknown type '{r.GetValue(type)}' (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", "--type");
            string path = r.GetValue(output)!;
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir != null && !Directory.Exists(dir)) throw new ArgumentException($"the folder of '{path}' does not exist", "--output");
            var sw = System.Diagnostics.Stopwatch.StartNew();
            SyntheticModel.Write(s, t, path, r.GetValue(seed));
            Console.Error.WriteLine($"wrote {path}: {s.Name}, {s.Parameters / 1e6:F1}M parameters, {t}, {new FileInfo(path).Length / 1e6:F1} MB, {sw.Elapsed.TotalSeconds:F1} s");
            return 0;
        }));
        return cmd;
    }
}
