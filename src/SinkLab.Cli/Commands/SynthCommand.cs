using System.CommandLine;
using SinkLab.Gguf;
using SinkLab.Models;

namespace SinkLab.Cli.Commands;

/// <summary><c>sinklab synth --shape NAME [--arch A] -o FILE.gguf --type T</c>: a random-weight model of a realistic
/// shape in any supported architecture, laid out as llama.cpp's converter writes it.</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = $"Shape: {string.Join(", ", SyntheticModel.Shapes.Select(s => $"{s.Name} ({s.Parameters / 1e6:F0}M)"))} (dense counts; a mixture-of-experts architecture has every expert's MLP)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var type = new Option<string>("--type")
        {
            Description = "Every matrix of one type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), or a llama-quantize " +
                          "recipe with per-tensor types (Q4_K_M, Q4_K_S, Q5_K_M, Q5_K_S); MXFP4 or, for a mixture of experts, MXFP4_MOE " +
                          "(experts MXFP4, router F32, other matrices Q8_0: how llama.cpp's gpt-oss files are typed)",
            DefaultValueFactory = _ => "Q8_0",
        };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var arch = new Option<string>("--arch") { Description = $"Architecture: {string.Join(", ", ArchitectureRegistry.Supported)}", DefaultValueFactory = _ => "llama" };
        var cmd = new Command("synth", "Write a random-weight model of a realistic shape in llama.cpp's layout (speed and correctness checks without downloads)") { shape, output, type, seed, arch };
        cmd.SetAction(r => Cli.Guard(() =>
        {
            SyntheticShape s = SyntheticModel.Shape(r.GetValue(shape)!);
            string name = r.GetValue(type)!.ToUpperInvariant();
            bool uniform = Enum.TryParse(name, out GgmlType t) && Enum.IsDefined(t) && !name.All(char.IsDigit);
            bool moe = name == "MXFP4_MOE";
            QuantRecipe? recipe = uniform || moe ? null : QuantRecipe.All.FirstOrDefault(q => q.Name == name)
                ?? throw new ArgumentException($"unknown type '{r.GetValue(type)}' (a tensor type such as Q8_0 or Q4_K, or a recipe: {string.Join(", ", QuantRecipe.All.Select(q => q.Name))})", "--type");
            string path = r.GetValue(output)!;
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir != null && !Directory.Exists(dir)) throw new ArgumentException($"the folder of '{path}' does not exist", "--output");
            var sw = System.Diagnostics.Stopwatch.StartNew();
            string a = r.GetValue(arch)!;
            ArchitectureRegistry.Get(a, "--arch");
            if (moe) SyntheticModel.WriteMxfp4Moe(s, path, r.GetValue(seed), a);
            else if (recipe != null) SyntheticModel.Write(s, recipe, path, r.GetValue(seed), a);
            else SyntheticModel.Write(s, t, path, r.GetValue(seed), a);
            long parameters;
            using (var written = Gguf.GgufFile.Open(path)) parameters = written.Tensors.Sum(x => x.Dimensions.Aggregate(1L, (p, d) => p * d));
            Console.Error.WriteLine($"wrote {path}: {a} {s.Name}, {parameters / 1e6:F1}M parameters, {(moe ? "MXFP4_MOE" : recipe?.Name ?? t.ToString())}, {new FileInfo(path).Length / 1e6:F1} MB, {sw.Elapsed.TotalSeconds:F1} s");
            return 0;
        }));
        return cmd;
    }
}
