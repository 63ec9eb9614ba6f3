using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Models;

/// <summary>The engine against an independent float64 forward on random-weight models written by our writer.</summary>
public class ForwardFixtureTests
{
    private static double MaxRelativeError(FixtureModel fixture, int[] tokens, Func<Model, int[], float[][]> engine)
    {
        using Model model = fixture.Load();
        float[][] got = engine(model, tokens);
        double[][] want = ReferenceForward.Logits(fixture, tokens);
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
        {
            double scale = want[t].Max(Math.Abs);
            for (int i = 0; i < want[t].Length; i++) worst = Math.Max(worst, Math.Abs(got[t][i] - want[t][i]) / scale);
        }
        return worst;
    }

    private static float[][] Batched(Model m, int[] tokens, int threads)
    {
        using var s = new InferenceSession(m, new SessionOptions { Threads = threads });
        var all = new float[tokens.Length * m.Config.VocabSize];
        s.Evaluate(tokens, all);
        return Enumerable.Range(0, tokens.Length).Select(t => all.AsSpan(t * m.Config.VocabSize, m.Config.VocabSize).ToArray()).ToArray();
    }

    private static float[][] OneByOne(Model m, int[] tokens)
    {
        using var s = new InferenceSession(m, new SessionOptions { BatchSize = 5 });
        return tokens.Select(t => s.Decode(t).ToArray()).ToArray();
    }

    private static readonly int[] Tokens = [1, 17, 250, 3, 99, 299, 42, 42, 7, 180, 260, 11, 5, 77, 123, 200, 1, 64, 32, 16];

    [Fact]
    public void Llama3SettingsMatchFloat64Reference()
    {
        FixtureModel f = FixtureModel.Llama3Like();
        using (Model m = f.Load())
        {
            Assert.Equal(500000f, m.Config.RopeFreqBase);
            Assert.Equal(2, m.Config.KvHeads);
            Assert.NotNull(m.Weights.RopeFreqFactors);
            Assert.Contains(m.Weights.RopeFreqFactors!, x => x > 1 && x < 8);   // the interpolated regime is exercised
        }
        Assert.True(MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 1)) < 1e-4);
        Assert.True(MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 2)) < 1e-4);
        Assert.True(MaxRelativeError(f, Tokens, OneByOne) < 1e-4);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void KQuantModelsMatchFloat64ReferenceOnTheirDequantizedWeights(GgmlType type)
    {
        // 256-wide rows: one super-block per row of Q/K/V/O and gate/up, two per row of down. The activations are
        // quantized to 8 bits per 32 as for every quantized type, hence the Q8_0-like tolerance.
        var f = new FixtureModel { Dim = 256, Hidden = 512, Layers = 2, Heads = 8, KvHeads = 2, Vocab = 300, Context = 64, MatrixType = type };
        using (Model m = f.Load()) Assert.Equal(type, m.Weights.Layers[1].FfnDown!.Type);
        double one = MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 1));
        Assert.InRange(one, 0, 2e-2);
        Assert.Equal(one, MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 2)), 1e-6);   // threads change nothing
        // Prefill takes four tokens at a time through the tile kernels; decoding token by token must agree with it.
        using Model model = f.Load();
        float[][] batched = Batched(model, Tokens, 1), single = OneByOne(model, Tokens);
        for (int t = 0; t < Tokens.Length; t++)
            for (int i = 0; i < batched[t].Length; i++) Assert.Equal(single[t][i], batched[t][i], 1e-3f);
    }

    [Fact]
    public void Qwen2WithBiasesAndNeoxRopeMatchesFloat64Reference()
    {
        var f = new FixtureModel { Dim = 64, Hidden = 96, Layers = 2, Heads = 8, KvHeads = 2, Vocab = 300, Context = 64, FreqBase = 1000000f, Arch = "qwen2" };
        using (Model m = f.Load())
        {
            Assert.Equal("qwen2", m.Config.Architecture);
            Assert.Equal(RopeStyle.NeoX, m.Config.RopeStyle);
            Assert.NotNull(m.Weights.Layers[0].BiasK);
        }
        Assert.True(MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 1)) < 1e-4);
        Assert.True(MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 2)) < 1e-4);
        Assert.True(MaxRelativeError(f, Tokens, OneByOne) < 1e-4);
    }

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q5_1)]
    public void QuantizedWeightsMatchReferenceOnTheSameDequantizedWeights(GgmlType type)
    {
        FixtureModel f = FixtureModel.Llama3Like(type);
        double err = MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 1));
        // Float weights are exact; quantized types also quantize the activations to 8 bits, as ggml does.
        double tolerance = type is GgmlType.F16 or GgmlType.BF16 ? 1e-4 : 2e-2;
        Assert.True(err < tolerance, $"{type}: {err}");
    }

    [Theory]
    [InlineData("softmax1")]
    [InlineData("sink-logit")]
    [InlineData("sigmoid")]
    [InlineData("gated")]
    [InlineData("softpick")]
    public void AttentionVariantsMatchFloat64Reference(string variant)
    {
        FixtureModel f = FixtureModel.Llama3Like();
        f.Variant = variant;
        using (Model m = f.Load())
        {
            Assert.Equal(variant, AttentionVariantNames.Name(m.Config.Attention));
        }
        Assert.True(MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 1)) < 1e-4);
        Assert.True(MaxRelativeError(f, Tokens, (m, t) => Batched(m, t, 2)) < 1e-4);
        Assert.True(MaxRelativeError(f, Tokens, OneByOne) < 1e-4);
        // The materialised attention path (taken when patterns are hooked) must agree with the fused one.
        Assert.True(MaxRelativeError(f, Tokens, (m, t) =>
        {
            using var s = new InferenceSession(m);
            float[] all = s.RunWithCache(t, n => n.EndsWith("hook_pattern", StringComparison.Ordinal)).Logits;
            return Enumerable.Range(0, t.Length).Select(i => all.AsSpan(i * 300, 300).ToArray()).ToArray();
        }) < 1e-4);
    }

    [Fact]
    public void UnknownAttentionVariantIsNotSupportedByName()
    {
        FixtureModel f = FixtureModel.Llama3Like();
        f.Variant = "linear";
        var e = Assert.Throws<ModelNotSupportedException>(() => f.Load());
        Assert.Equal("linear", e.What);
    }

    [Fact]
    public void TiedOutputAndMultiHeadAttentionWithoutGqa()
    {
        var f = new FixtureModel { Dim = 48, Hidden = 64, Layers = 3, Heads = 4, KvHeads = 4, Vocab = 270, Context = 32, Tied = true, Seed = 3 };
        using (Model m = f.Load()) Assert.True(m.Config.TiedOutput);
        Assert.True(MaxRelativeError(f, Tokens.Where(t => t < 270).ToArray(), (m, t) => Batched(m, t, 1)) < 1e-4);
    }

    [Fact]
    public void ContextOverflowAndBadTokenAreRejected()
    {
        FixtureModel f = FixtureModel.Llama3Like();
        using Model m = f.Load();
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = 4 });
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Decode(300));
        s.Prefill([1, 2, 3, 4]);
        Assert.Throws<InvalidOperationException>(() => s.Decode(5));
    }
}
