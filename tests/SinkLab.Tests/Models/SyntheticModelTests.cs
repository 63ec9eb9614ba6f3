using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.Models;

/// <summary><c>sinklab synth</c>: random-weight models of realistic shapes that the engine loads and runs.</summary>
public class SyntheticModelTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.F16)]
    public void TinyShapeLoadsRunsAndIsDeterministic(GgmlType type)
    {
        string a = Path.Combine(Path.GetTempPath(), $"synth-a-{Guid.NewGuid():N}.gguf"), b = a.Replace("synth-a", "synth-b");
        try
        {
            SyntheticShape shape = SyntheticModel.Shape("tiny");
            SyntheticModel.Write(shape, type, a, seed: 3);
            SyntheticModel.Write(shape, type, b, seed: 3);
            Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
            using Model m = Model.Load(a);
            Assert.Equal((shape.Dim, shape.Layers, shape.Heads, shape.KvHeads, shape.Vocab), (m.Config.Dim, m.Config.Layers, m.Config.Heads, m.Config.KvHeads, m.Config.VocabSize));
            Assert.All(m.Weights.Layers, l => Assert.Equal(type, l.Wq.Type));
            using var s = new InferenceSession(m);
            float[] logits = s.Prefill([1, 300, 301, 7]).ToArray();
            Assert.All(logits, x => Assert.True(float.IsFinite(x)));
            long matrices = (long)shape.Vocab * shape.Dim + shape.Layers * ((long)shape.Dim * shape.Dim * 2 + 2L * shape.Dim * (shape.Dim / shape.Heads * shape.KvHeads) + 3L * shape.Dim * shape.Hidden);
            Assert.Equal(GgmlTypeInfo.ByteSize(type, matrices), SyntheticModel.WeightBytesPerToken(m));
        }
        finally
        {
            File.Delete(a);
            File.Delete(b);
        }
    }

    [Fact]
    public void BadShapeOrTypeIsOneLineError()
    {
        var (code, _, err) = CliTests.Run("synth", "--shape", "7b", "-o", Path.Combine(Path.GetTempPath(), "never.gguf"));
        Assert.Equal(2, code);
        Assert.Contains("unknown shape '7b'", err);
        (code, _, err) = CliTests.Run("synth", "--shape", "tiny", "--type", "IQ2_XXS", "-o", Path.Combine(Path.GetTempPath(), "never.gguf"));
        Assert.Equal(2, code);
        Assert.Contains("IQ2_XXS cannot be written", err);
        (code, _, err) = CliTests.Run("synth", "--shape", "tiny", "--type", "Q4_K", "-o", Path.Combine(Path.GetTempPath(), "never.gguf"));
        Assert.Equal(2, code);
        Assert.Contains("not multiples of Q4_K's block of 256", err);
        (code, _, err) = CliTests.Run("synth", "--shape", "tiny", "--type", "Q9_Z", "-o", Path.Combine(Path.GetTempPath(), "never.gguf"));
        Assert.Equal(2, code);
        Assert.Contains("unknown type 'Q9_Z'", err);
        (code, _, err) = CliTests.Run("synth", "--shape", "tiny", "--type", "MXFP4_MOE", "-o", Path.Combine(Path.GetTempPath(), "never.gguf"));
        Assert.Equal(2, code);
        Assert.Contains("llama has no mixture of experts", err);
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "never.gguf")));
    }

    [Fact]
    public void Mxfp4MoeTypesExpertsRouterAndTheRestAsLlamaCppsGptOssFiles()
    {
        string path = Path.Combine(Path.GetTempPath(), $"synth-moe-{Guid.NewGuid():N}.gguf");
        try
        {
            SyntheticModel.WriteMxfp4Moe(SyntheticModel.Shape("tiny"), path);
            using GgufFile f = GgufFile.Open(path);
            foreach (GgufTensorInfo t in f.Tensors.Where(t => t.Dimensions.Length >= 2 && t.Name.EndsWith(".weight", StringComparison.Ordinal)))
            {
                GgmlType want = t.Name.Contains("_exps", StringComparison.Ordinal) ? GgmlType.MXFP4
                    : t.Name.Contains("ffn_gate_inp", StringComparison.Ordinal) ? GgmlType.F32 : GgmlType.Q8_0;
                Assert.True(want == t.Type, $"{t.Name}: {t.Type}, want {want}");
            }
            Assert.Equal(2 * 3, f.Tensors.Count(t => t.Type == GgmlType.MXFP4));   // 2 layers x gate, up and down experts
            using Model m = Model.Load(path);
            using var s = new InferenceSession(m);
            Assert.All(s.Prefill([1, 300, 301]).ToArray(), x => Assert.True(float.IsFinite(x)));
            // A token reads expert_used_count experts' gate, up and down in each layer: 3 · h · dim MXFP4 weights each.
            SyntheticShape shape = SyntheticModel.Shape("tiny");
            Assert.Equal(shape.Layers * shape.ExpertsUsed * 3 * GgmlTypeInfo.ByteSize(GgmlType.MXFP4, (long)shape.Hidden * shape.Dim), SyntheticModel.ActiveExpertBytesPerToken(m));
            using Model dense = Model.Load(Shared.StoriesF32);
            Assert.Null(SyntheticModel.ActiveExpertBytesPerToken(dense));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>20b-class tensors are drawn and encoded in parallel chunks of rows, each with its own seed: the bytes
    /// do not depend on how the chunks were scheduled, and they decode to the uniform range the weights are drawn from.</summary>
    [Fact]
    public void ParallelRowChunksAreDeterministicAndInRange()
    {
        const int rowLength = 64;
        long elements = rowLength * 150_000L;   // three chunks of 65,536 rows
        float scale = MathF.Sqrt(3f / rowLength);
        byte[] a = SyntheticModel.RandomRowsInParallel(GgmlType.Q8_0, 7, rowLength, elements, scale);
        byte[] b = SyntheticModel.RandomRowsInParallel(GgmlType.Q8_0, 7, rowLength, elements, scale);
        Assert.Equal(a, b);
        Assert.NotEqual(a, SyntheticModel.RandomRowsInParallel(GgmlType.Q8_0, 8, rowLength, elements, scale));
        // Each chunk of 65,536 rows is the sequential encoding of its own generator's draws, at its place in the tensor.
        int rowBytes = (int)GgmlTypeInfo.ByteSize(GgmlType.Q8_0, rowLength);
        for (int chunk = 0; chunk < 3; chunk++)
        {
            int rows = Math.Min(65_536, 150_000 - chunk * 65_536);
            float[] draws = SyntheticModel.Uniform(new Random(SyntheticModel.HashCombine(7, chunk)), (long)rows * rowLength, scale);
            Assert.True(SinkLab.Kernels.Quantizer.Quantize(GgmlType.Q8_0, draws).AsSpan().SequenceEqual(a.AsSpan(chunk * 65_536 * rowBytes, rows * rowBytes)), $"chunk {chunk}");
        }
        Assert.False(a.AsSpan(0, 4096).SequenceEqual(a.AsSpan(65_536 * rowBytes, 4096)));   // each chunk has its own seed
    }
}
