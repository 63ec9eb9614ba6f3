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
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "never.gguf")));
    }
}
