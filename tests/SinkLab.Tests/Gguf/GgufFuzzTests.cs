using System.Diagnostics;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Gguf;

/// <summary>
/// Seeded mutation fuzzing of real GGUF files: every outcome is a model that runs, or a GgufFormatException /
/// ModelNotSupportedException. Any other exception, a hang or a crash fails the test.
/// </summary>
public class GgufFuzzTests
{
    [Theory]
    [InlineData("stories260K-f32-ctx512.gguf", 1)]
    [InlineData("stories260K-q4_0.gguf", 2)]
    [InlineData("k-quant fixture (Q4_K_M: Q4_K + Q6_K)", 3)]
    [InlineData("quant/llama-wide-q2_k.gguf", 4)]      // llama.cpp's Q2_K mix: Q2_K, Q3_K, Q6_K
    [InlineData("quant/llama-wide-iq2_m.gguf", 5)]     // IQ2_S, IQ3_S, Q5_K
    [InlineData("quant/llama-wide-iq1_m.gguf", 6)]     // IQ1_M, IQ2_XXS, Q2_K
    [InlineData("quant/llama-wide-tq1_0.gguf", 7)]     // TQ1_0, Q4_K, Q6_K
    [InlineData("MXFP4 synthetic", 8)]
    public void TwoThousandMutationsNeverEscapeTheTypedErrors(string file, int seed)
    {
        byte[] original = file.StartsWith("k-quant", StringComparison.Ordinal) ? KQuantFile()
            : file.StartsWith("MXFP4", StringComparison.Ordinal) ? Mxfp4File()
            : file.StartsWith("quant/", StringComparison.Ordinal) ? File.ReadAllBytes(Path.Combine(Shared.Root, "reference", file))
            : File.ReadAllBytes(Path.Combine(Shared.Models, file));
        long dataOffset;
        using (var f = GgufFile.Parse(original)) dataOffset = f.DataOffset;
        var rng = new Random(seed);
        int rejected = 0, loaded = 0;
        for (int i = 0; i < 2000; i++)
        {
            byte[] b = (byte[])original.Clone();
            Mutate(b, rng, (int)dataOffset);
            if (rng.Next(10) == 0) Array.Resize(ref b, rng.Next(b.Length));
            var sw = Stopwatch.StartNew();
            try
            {
                using GgufFile f = GgufFile.Parse(b, $"mutant-{i}");
                using Model m = Model.FromGguf(f);
                using var s = new InferenceSession(m, new SessionOptions { ContextSize = 8 });
                s.Prefill(m.Tokenizer.Encode("Once"));
                loaded++;
            }
            catch (Exception e) when (e is GgufFormatException or ModelNotSupportedException)
            {
                rejected++;
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"mutant {i} took {sw.Elapsed}");
        }
        Assert.True(rejected > 200 && loaded > 50, $"rejected {rejected}, loaded {loaded}: mutations should hit both outcomes");
    }

    /// <summary>A 256-wide random model quantized by SinkLab with the Q4_K_M recipe: Q4_K matrices, Q6_K output,
    /// attn_v and ffn_down of layer 1.</summary>
    private static byte[] KQuantFile()
    {
        var fixture = new SinkLab.Tests.Models.FixtureModel { Dim = 256, Hidden = 512, Layers = 2, Heads = 8, KvHeads = 2, Vocab = 300, Context = 64 };
        string src = Path.Combine(Path.GetTempPath(), $"sinklab-fuzz-{Guid.NewGuid():N}.gguf"), dst = src + ".q";
        try
        {
            File.WriteAllBytes(src, fixture.Bytes());
            using (GgufFile f = GgufFile.Open(src)) ModelQuantizer.Quantize(f, QuantRecipe.Parse("Q4_K_M"), dst);
            byte[] bytes = File.ReadAllBytes(dst);
            using (GgufFile q = GgufFile.Parse(bytes))
                Assert.Contains(q.Tensors, t => t.Type == GgmlType.Q6_K);
            return bytes;
        }
        finally { File.Delete(src); File.Delete(dst); }
    }

    /// <summary>The tiny synthetic llama with every matrix in MXFP4.</summary>
    private static byte[] Mxfp4File()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sinklab-fuzz-{Guid.NewGuid():N}.gguf");
        try
        {
            SyntheticModel.Write(SyntheticModel.Shape("tiny"), GgmlType.MXFP4, path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    private static void Mutate(byte[] b, Random rng, int header)
    {
        int n = 1 + rng.Next(4);
        for (int k = 0; k < n; k++)
        {
            int at = rng.Next(10) < 9 ? rng.Next(header) : rng.Next(b.Length);
            switch (rng.Next(5))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2: b[at] = 0xFF; break;
                case 3: for (int j = at; j < Math.Min(b.Length, at + 8); j++) b[j] = 0xFF; break;
                default: b[at] = 0; break;
            }
        }
    }
}
