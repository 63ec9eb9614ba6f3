using SinkLab.Analysis;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Analysis;

/// <summary>The committed reference models (models/) are what docs/results/emergence.md says they are.</summary>
public class ReferenceModelTests
{
    private static string Path(string name) => System.IO.Path.Combine(Shared.Repo, "models", name);

    [Fact]
    public void SinkModelHasAFirstTokenSinkAndItsTwinHasNone()
    {
        using Model sink = Model.Load(Path("tinystories-sink.gguf")), free = Model.Load(Path("tinystories-sinkfree.gguf"));
        Assert.Equal(AttentionVariant.Softmax, sink.Config.Attention);
        Assert.Equal(AttentionVariant.SinkLogit, free.Config.Attention);
        Assert.Equal(256, sink.Config.ContextLength);
        int[][] seqs = CorpusSequences.Take(sink.Tokenizer, File.ReadAllText(Shared.TinyStories), 8, 256);
        double Rate(Model m)
        {
            using var s = new InferenceSession(m, new SessionOptions { ContextSize = 256, Threads = 2 });
            return SinkMetrics.Measure(s, seqs, [0.3]).SinkRate["0.3"];
        }
        Assert.True(Rate(sink) >= 0.125, "the sink model keeps at least 2 of 16 heads above 0.3");
        Assert.Equal(0, Rate(free));
    }

    [Fact]
    public void MaskingKey0EqualsDroppingItForSinkLogitsToo()
    {
        // The learned sink logit keeps its share when key 0 is masked (divide by 1 − w₀, not renormalise to 1); with
        // relative RoPE that is again exactly the computation without the first token.
        using Model m = Model.Load(Path("tinystories-sinkfree.gguf"));
        int[][] seqs = CorpusSequences.Take(m.Tokenizer, File.ReadAllText(Shared.TinyStories), 2, 16);
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = 16 });
        SensitivityReport r = Sensitivity.Measure(s, seqs, position: 2, delta: 1e-2, seeds: 2, jacobianSequences: 1);
        for (int l = 0; l < m.Config.Layers; l++) Assert.Equal(r.Curves[1].ByLayer[l], r.Curves[2].ByLayer[l], 3);
    }
}
