using System.Security.Cryptography;
using System.Text.Json;
using SinkLab.Gguf;
using SinkLab.Kernels;

namespace SinkLab.Tests.Quantization;

/// <summary>
/// SinkLab's block encoders against llama.cpp's <c>llama-quantize</c> without an importance matrix
/// (../shared/reference/quant/noimatrix/: per-tensor SHA-256 of 14 files): every quantized tensor of every file,
/// re-encoded here from the same F32 weights with the same type, must be byte-identical.
/// </summary>
public class QuantizerReferenceTests
{
    internal static string Dir => Path.Combine(Shared.Root, "reference", "quant", "noimatrix");

    internal sealed record TensorHash(string Type, string Sha256);

    internal static Dictionary<string, Dictionary<string, TensorHash>> Hashes()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "tensor_sha256.json")));
        return doc.RootElement.EnumerateObject().ToDictionary(f => f.Name, f => f.Value.GetProperty("tensors").EnumerateObject()
            .ToDictionary(t => t.Name, t => new TensorHash(t.Value.GetProperty("type").GetString()!, t.Value.GetProperty("sha256").GetString()!)));
    }

    /// <summary>(type, tensor) pairs llama.cpp wrote, one row per type with every tensor of that type across the files.</summary>
    public static TheoryData<string> TypesWritten()
    {
        var d = new TheoryData<string>();
        foreach (string t in Hashes().Values.SelectMany(f => f.Values).Select(h => h.Type).Distinct().Where(t => t != "F32").Order()) d.Add(t);
        return d;
    }

    [Theory]
    [MemberData(nameof(TypesWritten))]
    public void EncoderIsByteIdenticalToLlamaQuantize(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        using GgufFile source = GgufFile.Open(Path.Combine(Shared.Root, "reference", "quant", "llama-wide-f32.gguf"));
        var checkedTensors = new HashSet<(string, string)>();
        var mismatches = new List<string>();
        foreach (var (file, tensors) in Hashes())
            foreach (var (name, h) in tensors)
            {
                if (h.Type != typeName || !checkedTensors.Add((name, h.Sha256))) continue;
                GgufTensorInfo info = source.Tensors.First(t => t.Name == name);
                float[] x = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source.GetTensorData(info)).ToArray();
                int cols = (int)info.RowLength;
                var bytes = new byte[GgmlTypeInfo.ByteSize(type, x.Length)];
                int rowBytes = (int)GgmlTypeInfo.ByteSize(type, cols);
                for (int r = 0; r < x.Length / cols; r++) Quantizer.Quantize(type, x.AsSpan(r * cols, cols), bytes.AsSpan(r * rowBytes, rowBytes));
                string got = Convert.ToHexStringLower(SHA256.HashData(bytes));
                if (got != h.Sha256) mismatches.Add($"{file}: {name}");
            }
        Assert.True(checkedTensors.Count > 0);
        Assert.True(mismatches.Count == 0, $"{typeName}: {mismatches.Count} of {checkedTensors.Count} tensors differ from llama-quantize's, e.g. {string.Join("; ", mismatches.Take(3))}");
    }

    [Theory]
    [InlineData("Q8_0")] [InlineData("Q4_0")] [InlineData("Q4_1")] [InlineData("Q5_0")] [InlineData("Q5_1")]
    [InlineData("Q2_K")] [InlineData("Q3_K_S")] [InlineData("Q3_K_M")] [InlineData("Q3_K_L")] [InlineData("Q4_K_M")]
    [InlineData("Q5_K_M")] [InlineData("Q6_K")] [InlineData("IQ4_NL")] [InlineData("IQ4_XS")]
    public void RecipeWritesLlamaQuantizesTensors(string recipe)
    {
        var expected = Hashes()[$"llama-wide-noimat-{recipe.ToLowerInvariant()}.gguf"];
        string path = Path.Combine(Path.GetTempPath(), $"sinklab-recipe-{recipe}-{Guid.NewGuid():N}.gguf");
        try
        {
            using (GgufFile source = GgufFile.Open(Path.Combine(Shared.Root, "reference", "quant", "llama-wide-f32.gguf")))
                SinkLab.Models.ModelQuantizer.Quantize(source, SinkLab.Models.QuantRecipe.Parse(recipe), path);
            using GgufFile written = GgufFile.Open(path);
            Assert.Equal(expected.Count, written.Tensors.Count);
            foreach (GgufTensorInfo t in written.Tensors)
            {
                TensorHash h = expected[t.Name];
                Assert.True(h.Type == t.Type.ToString(), $"{recipe}: {t.Name} is {t.Type}, llama-quantize wrote {h.Type}");
                Assert.True(h.Sha256 == Convert.ToHexStringLower(SHA256.HashData(written.GetTensorData(t))), $"{recipe}: {t.Name} ({t.Type}) differs from llama-quantize's bytes");
            }
        }
        finally { File.Delete(path); }
    }
}

/// <summary>With llama.cpp's importance matrix (../shared/reference/quant/llama-wide.imatrix.gguf), every recipe SinkLab
/// writes reproduces the tensors of llama.cpp's own files made with it, byte for byte.</summary>
public class ImportanceQuantizerTests
{
    [Theory]
    [InlineData("Q8_0")] [InlineData("Q2_K")] [InlineData("Q3_K_S")] [InlineData("Q3_K_M")] [InlineData("Q3_K_L")]
    [InlineData("Q4_K_M")] [InlineData("Q5_K_M")] [InlineData("Q6_K")] [InlineData("IQ4_NL")] [InlineData("IQ4_XS")]
    public void RecipeWithImportanceMatrixWritesLlamaQuantizesTensors(string recipe)
    {
        string dir = Path.Combine(Shared.Root, "reference", "quant");
        var imatrix = SinkLab.Models.ImportanceMatrix.Load(Path.Combine(dir, "llama-wide.imatrix.gguf"));
        string path = Path.Combine(Path.GetTempPath(), $"sinklab-imatrix-{recipe}-{Guid.NewGuid():N}.gguf");
        try
        {
            using (GgufFile source = GgufFile.Open(Path.Combine(dir, "llama-wide-f32.gguf")))
                SinkLab.Models.ModelQuantizer.Quantize(source, SinkLab.Models.QuantRecipe.Parse(recipe), path, importance: imatrix);
            using GgufFile written = GgufFile.Open(path), reference = GgufFile.Open(Path.Combine(dir, $"llama-wide-{recipe.ToLowerInvariant()}.gguf"));
            var differ = new List<string>();
            foreach (GgufTensorInfo t in reference.Tensors)
            {
                Assert.True(written.TryGetTensor(t.Name, out GgufTensorInfo w), t.Name);
                Assert.True(t.Type == w.Type, $"{recipe}: {t.Name} is {w.Type}, llama-quantize wrote {t.Type}");
                if (!written.GetTensorData(w).SequenceEqual(reference.GetTensorData(t))) differ.Add($"{t.Name} ({t.Type}{(imatrix.For(t.Name) == null ? ", no importance entry" : "")})");
            }
            Assert.True(differ.Count == 0, $"{recipe}: {differ.Count} tensors differ from llama-quantize's: {string.Join("; ", differ.Take(4))}");
        }
        finally { File.Delete(path); }
    }
}

/// <summary><c>sinklab info</c> names every tensor's type; a matrix of a type the engine cannot run is refused by name
/// and number.</summary>
public class TensorTypeReportingTests
{
    [Fact]
    public void InfoListsEveryTensorsType()
    {
        var expected = QuantizerReferenceTests.Hashes()["llama-wide-noimat-q3_k_m.gguf"];
        var (code, stdout, stderr) = SinkLab.Tests.Cli.CliTests.Run("info", Path.Combine(QuantizerReferenceTests.Dir, "llama-wide-noimat-q3_k_m.gguf"), "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        var listed = doc.RootElement.GetProperty("tensors").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!, t => t.GetProperty("type").GetString()!);
        Assert.Equal(expected.Count, listed.Count);
        foreach (var (name, h) in expected) Assert.Equal(h.Type, listed[name]);
    }

    [Fact]
    public void MatrixOfATypeWithoutKernelIsRefusedByNameAndNumber()
    {
        byte[] b = File.ReadAllBytes(Path.Combine(Shared.Root, "reference", "quant", "llama-wide-f32.gguf"));
        int at = SinkLab.Tests.Gguf.GgufErrorTests.ValueOffset(b, "blk.0.attn_q.weight") + 16;   // two dimensions, then the type
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), (uint)GgmlType.NVFP4);
        using GgufFile f = GgufFile.Parse(b, "nvfp4.gguf");
        var e = Assert.Throws<ModelNotSupportedException>(() => { using var m = SinkLab.Models.Model.FromGguf(f); });
        Assert.Contains("blk.0.attn_q.weight", e.Message);
        Assert.Contains("NVFP4 (40)", e.Message);
    }
}
