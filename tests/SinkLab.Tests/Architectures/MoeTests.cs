using SinkLab.Gguf;
using SinkLab.Kernels;
using SinkLab.Models;

namespace SinkLab.Tests.Architectures;

/// <summary>The mixture-of-experts arithmetic against its definition, and MoE files whose keys disagree with their
/// tensors.</summary>
public class MoeTests
{
    [Fact]
    public void TopKTakesTheLargestLogitsLargestFirstAndLowerIndexOnTies()
    {
        float[] logits = [0.5f, 2f, -1f, 2f, 3f, 0.5f];
        int[] chosen = new int[3];
        MoeRouting.TopK(logits, chosen);
        Assert.Equal([4, 1, 3], chosen);
        int[] all = new int[6];
        MoeRouting.TopK(logits, all);
        Assert.Equal([4, 1, 3, 0, 5, 2], all);
        Assert.Throws<ArgumentException>(() => MoeRouting.TopK(logits, new int[7]));
    }

    [Fact]
    public void WeightsAreASoftmaxOverTheChosenLogitsAlone()
    {
        float[] logits = [1f, 4f, -2f, 3f];
        int[] chosen = [1, 3];
        var w = new float[2];
        MoeRouting.Weights(logits, chosen, ExpertGating.SoftmaxOfSelected, w);
        double e = Math.Exp(-1);
        Assert.Equal(1 / (1 + e), w[0], 6);
        Assert.Equal(e / (1 + e), w[1], 6);
    }

    [Fact]
    public void SoftmaxAndSigmoidGatingKeepTheChosenProbabilitiesThenNormaliseAndScale()
    {
        float[] logits = [1f, 4f, -2f, 3f];
        int[] chosen = [1, 3];
        double all = logits.Sum(v => Math.Exp(v));
        var w = new float[2];
        MoeRouting.Weights(logits, chosen, ExpertGating.Softmax, w);
        Assert.Equal(Math.Exp(4) / all, w[0], 6);
        Assert.Equal(Math.Exp(3) / all, w[1], 6);
        MoeRouting.Weights(logits, chosen, ExpertGating.Softmax, w, normalize: true, scale: 2.5f);
        Assert.Equal(2.5 * Math.Exp(4) / (Math.Exp(4) + Math.Exp(3)), w[0], 5);
        Assert.Equal(2.5 * Math.Exp(3) / (Math.Exp(4) + Math.Exp(3)), w[1], 5);
        MoeRouting.Weights(logits, chosen, ExpertGating.Sigmoid, w);
        Assert.Equal(1 / (1 + Math.Exp(-4)), w[0], 6);
        Assert.Equal(1 / (1 + Math.Exp(-3)), w[1], 6);
        MoeRouting.Weights(logits, chosen, ExpertGating.Sigmoid, w, normalize: true);
        Assert.Equal(1.0, w[0] + w[1], 6);
        Assert.Equal((ExpertGating?)ExpertGating.SoftmaxOfSelected, MoeSpec.GatingOf(3));
        Assert.Equal((ExpertGating?)ExpertGating.Softmax, MoeSpec.GatingOf(1));
        Assert.Equal((ExpertGating?)ExpertGating.Sigmoid, MoeSpec.GatingOf(2));
        Assert.Null(MoeSpec.GatingOf(4));
    }

    /// <summary>Shared experts (Qwen-MoE's ffn_*_shexp and its σ gate), added to the gpt-oss fixture: the engine against
    /// the float64 reference, token by token and batched, with and without the gate.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SharedExpertsJoinEveryTokensSum(bool gated)
    {
        using GgufFile source = ArchFixtureTests.Fixture("gpt-oss");
        int dim = (int)source.Tensors.Single(t => t.Name == "token_embd.weight").Dimensions[0], hs = 48;
        int layers = source.Tensors.Count(t => t.Name.EndsWith(".attn_norm.weight", StringComparison.Ordinal));
        var rng = new Random(11);
        float[] R(int n, float s) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * s)];
        GgufFile f = Edited(w =>
        {
            for (int l = 0; l < layers; l++)
            {
                w.AddTensor($"blk.{l}.ffn_gate_shexp.weight", [dim, hs], R(dim * hs, 0.2f));
                w.AddTensor($"blk.{l}.ffn_up_shexp.weight", [dim, hs], R(dim * hs, 0.2f));
                w.AddTensor($"blk.{l}.ffn_down_shexp.weight", [hs, dim], R(dim * hs, 0.2f));
                if (gated) w.AddTensor($"blk.{l}.ffn_gate_inp_shexp.weight", [dim], R(dim, 0.3f));
            }
        });
        using Model m = Model.FromGguf(f);
        Assert.All(m.Weights.Layers, l => Assert.Equal(hs, l.Experts!.SharedUp!.Rows));
        int[] tokens = [1, 17, 250, 3, 99, 42, 7, 180];
        double[][] want = ArchForward.Logits(f, tokens);
        float[][] batched = ArchFixtureTests.Batched(m, tokens, threads: 2);
        using var s = new SinkLab.Inference.InferenceSession(m, new SinkLab.Inference.SessionOptions { Gelu = SinkLab.Inference.GeluMode.Tanh });
        for (int t = 0; t < tokens.Length; t++)
        {
            float[] one = s.Decode(tokens[t]).ToArray();
            double scale = want[t].Max(Math.Abs);
            for (int i = 0; i < one.Length; i++)
            {
                Assert.True(Math.Abs(one[i] - want[t][i]) / scale < 1e-4, $"token {t}, logit {i}: {one[i]} vs {want[t][i]}");
                Assert.True(Math.Abs(batched[t][i] - want[t][i]) / scale < 1e-4, $"batched token {t}, logit {i}");
            }
        }
        // Without shared experts the logits differ: the test sees them.
        using Model plain = Model.FromGguf(ArchFixtureTests.Fixture("gpt-oss"));
        Assert.NotEqual(ArchFixtureTests.Batched(plain, tokens, 1)[^1], batched[^1]);
    }

    [Fact]
    public void ClampedSwiGluFollowsItsDefinition()
    {
        float[] g = [-3f, 0f, 2f, 7f, 9f, 12f], u = [0.5f, -8f, 3f, 10f, -1f, 6.9f];
        float[] got = (float[])g.Clone();
        MoeRouting.SwiGluOai(got, u);
        for (int i = 0; i < g.Length; i++)
        {
            double x = Math.Min(g[i], 7), y = Math.Clamp(u[i], -7, 7);
            Assert.Equal(x / (1 + Math.Exp(-1.702 * x)) * (y + 1), got[i], 4);
        }
        float[] at7 = [7f], at9 = [9f];
        MoeRouting.SwiGluOai(at7, [1f]);
        MoeRouting.SwiGluOai(at9, [1f]);
        Assert.Equal(at7[0], at9[0]);   // the gate is clamped at 7 from above only
    }

    private static GgufFile Edited(Action<GgufWriter> edit)
    {
        using GgufFile source = ArchFixtureTests.Fixture("gpt-oss");
        GgufWriter w = GgufWriter.From(source);
        edit(w);
        using var ms = new MemoryStream();
        w.Write(ms);
        return GgufFile.Parse(ms.ToArray(), "edited-gpt-oss.gguf");
    }

    [Theory]
    [InlineData("used", "gpt-oss.expert_used_count")]       // top-k larger than the experts
    [InlineData("count", "ffn_gate_inp.weight")]            // expert_count disagrees with the router (read first) and experts
    [InlineData("width", "ffn_gate_exps.weight")]           // expert_feed_forward_length disagrees
    [InlineData("gating", "gpt-oss.expert_gating_func")]    // a gating function gpt-oss does not use
    public void InconsistentExpertsAreRefusedByName(string change, string named)
    {
        GgufFile f = Edited(w =>
        {
            switch (change)
            {
                case "used": w.Set("gpt-oss.expert_used_count", GgufValue.Of(9u)); break;
                case "count": w.Set("gpt-oss.expert_count", GgufValue.Of(8u)); break;
                case "width": w.Set("gpt-oss.expert_feed_forward_length", GgufValue.Of(96u)); break;
                case "gating": w.Add("gpt-oss.expert_gating_func", GgufValue.Of(2u)); break;
            }
        });
        var e = Assert.Throws<GgufFormatException>(() => Model.FromGguf(f));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void DecodeReadsTheRouterAndOnlyTheChosenExperts()
    {
        using Model m = Model.FromGguf(ArchFixtureTests.Fixture("gpt-oss"));
        MoeSpec moe = m.Config.Block.Moe!;
        Assert.Equal((4, 2), (moe.Experts, moe.Used));
        LayerWeights l0 = m.Weights.Layers[0];
        long expert = l0.Experts!.Gate[0].ByteSize + l0.Experts.Up[0].ByteSize + l0.Experts.Down[0].ByteSize;
        long dense = l0.PerToken(0).Sum(w => w.ByteSize);
        Assert.Equal(m.Config.Layers * (dense + 2 * expert) + m.Weights.Output.ByteSize, SyntheticModel.WeightBytesPerToken(m));
        Assert.Equal(AttentionVariant.SinkLogit, m.Config.Attention);
        Assert.All(m.Weights.Layers, l => Assert.NotNull(l.AttnSinks));
        int window = ArchFixtureTests.ShapeOf("gpt-oss").Window;
        Assert.Equal([window, 0], m.Config.LayerSpecs.Select(s => s.Window));   // even layers windowed, odd ones full
    }

    /// <summary>The MXFP4 fixture's experts are gguf-py's quantization of the F32 fixture's: SinkLab's encoder writes the
    /// same bytes from the same floats, for every expert tensor of every layer.</summary>
    [Fact]
    public void Mxfp4EncoderWritesGgufPysBytes()
    {
        using GgufFile f32 = GgufFile.Open(ArchReferenceTests.Fixture("gpt-oss"));
        using GgufFile mx = GgufFile.Open(ArchReferenceTests.Fixture("gpt-oss-mxfp4"));
        int tensors = 0;
        foreach (GgufTensorInfo t in mx.Tensors.Where(t => t.Type == GgmlType.MXFP4))
        {
            Assert.True(f32.TryGetTensor(t.Name, out GgufTensorInfo source));
            var x = new float[source.Dimensions.Aggregate(1L, (p, d) => p * d)];
            Quantizer.Dequantize(source.Type, f32.GetTensorData(source), x);
            Assert.True(Quantizer.Quantize(GgmlType.MXFP4, x).AsSpan().SequenceEqual(mx.GetTensorData(t)), t.Name);
            tensors++;
        }
        Assert.Equal(12, tensors);
    }
}

/// <summary>inspect's learned-sink view: the mass a sink logit takes, against its extremes.</summary>
public class LearnedSinkMassTests
{
    private static Model WithSinks(float value)
    {
        using GgufFile source = ArchFixtureTests.Fixture("gpt-oss");
        GgufWriter w = GgufWriter.From(source);
        for (int l = 0; l < 2; l++)
        {
            string name = GgufKeys.Block(l, GgufKeys.AttnSinks);
            Assert.True(w.RemoveTensor(name));
            w.AddTensor(name, [4], Enumerable.Repeat(value, 4).ToArray());
        }
        using var ms = new MemoryStream();
        w.Write(ms);
        return Model.FromGguf(GgufFile.Parse(ms.ToArray(), "sinks.gguf"));
    }

    private static double[][] Mass(Model m)
    {
        using var s = new SinkLab.Inference.InferenceSession(m);
        int[][] seqs = [ArchFixtureTests.Tokens[..12], ArchFixtureTests.Tokens[4..16]];
        return SinkLab.Analysis.SinkMetrics.Measure(s, seqs, SinkLab.Analysis.SinkMetrics.DefaultEpsilons).LearnedSinkMass!;
    }

    [Fact]
    public void SinkMassIsZeroWithoutSinksNearOneWithHugeOnesAndAbsentForSoftmax()
    {
        using (Model none = WithSinks(float.NegativeInfinity)) Assert.All(Mass(none).SelectMany(x => x), v => Assert.Equal(0, v, 6));
        using (Model huge = WithSinks(40f)) Assert.All(Mass(huge).SelectMany(x => x), v => Assert.InRange(v, 0.999, 1.0));
        using (Model mid = WithSinks(0f)) Assert.All(Mass(mid).SelectMany(x => x), v => Assert.InRange(v, 0.001, 0.999));
        using Model llama = Model.FromGguf(ArchFixtureTests.Fixture("llama"));
        using var s = new SinkLab.Inference.InferenceSession(llama);
        Assert.Null(SinkLab.Analysis.SinkMetrics.Measure(s, [ArchFixtureTests.Tokens[..12]], SinkLab.Analysis.SinkMetrics.DefaultEpsilons).LearnedSinkMass);
    }
}
