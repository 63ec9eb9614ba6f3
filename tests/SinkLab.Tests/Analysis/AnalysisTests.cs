using SinkLab.Analysis;
using SinkLab.Evaluation;
using SinkLab.Hooks;
using SinkLab.Inference;
using SinkLab.Models;
using SinkLab.Tests.Models;

namespace SinkLab.Tests.Analysis;

/// <summary>Each metric on a hand-built case with a known answer, and against direct computation on stories260K.</summary>
public class AnalysisTests
{
    private const int T = 6;

    /// <summary>[heads=2, T, T]: head 0 gives 0.9 to key 0 from every query t ≥ 1 (the rest spread evenly);
    /// head 1 attends uniformly over the visible keys.</summary>
    private static float[] HandPattern()
    {
        var a = new float[2 * T * T];
        for (int t = 0; t < T; t++)
        {
            if (t == 0) a[0] = 1;
            else
            {
                a[t * T] = 0.9f;
                for (int k = 1; k <= t; k++) a[t * T + k] = 0.1f / t;
            }
            for (int k = 0; k <= t; k++) a[T * T + t * T + k] = 1f / (t + 1);
        }
        return a;
    }

    [Fact]
    public void SinkScoreRateEntropyAndTopKeyOnAHandBuiltPattern()
    {
        var acc = new SinkMetrics.Accumulator(layers: 1, heads: 2, tokens: T, vocab: 300);
        int[] ids = [1, 10, 11, 12, 13, 14];
        acc.Add(ids, _ => HandPattern());
        SinkReport r = acc.Build(SinkMetrics.DefaultEpsilons, FixtureModel.Llama3Like().Load().Tokenizer);
        // α_0 = mean over all T queries (the first attends only to itself): (1 + 0.9·5) / 6.
        Assert.Equal((1 + 0.9 * 5) / 6, r.AlphaFirst[0][0], 6);
        Assert.Equal((1 + 1 / 2.0 + 1 / 3.0 + 1 / 4.0 + 1 / 5.0 + 1 / 6.0) / 6, r.AlphaFirst[0][1], 6);
        // Uniform attention also gives key 0 α = H_T / T (0.41 at T = 6): above 0.3, below 0.5.
        Assert.Equal(1.0, r.SinkRate["0.3"]);
        Assert.Equal(0.5, r.SinkRate["0.5"]);   // head 0 only
        Assert.Equal(0.5, r.SinkRate["0.8"]);   // 0.9167 > 0.8
        Assert.Equal(0, r.TopKeys[0][0].Position);
        // Uniform rows over t + 1 keys: entropy ln(t + 1), averaged over queries 1..T−1.
        Assert.Equal(Enumerable.Range(1, T - 1).Average(t => Math.Log(t + 1)), r.Entropy[0][1], 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => SinkMetrics.Rates(r.AlphaFirst, [1.0]));
    }

    [Fact]
    public void MassiveActivationIsFoundWithItsPlaceAndRatio()
    {
        var ma = new MassiveActivations(1);
        var x = new float[8 * 16];
        for (int i = 0; i < x.Length; i++) x[i] = i % 2 == 0 ? 1f : -1f;
        x[3 * 16 + 7] = -2500f;
        x[5 * 16 + 2] = 40f;
        ma.Add(0, 4, x, 16);
        MassiveLayer l = ma.Build()[0];
        Assert.Equal(1.0, l.Median);
        Assert.Equal((4, 3, 7, -2500.0), (l.Top[0].Sequence, l.Top[0].Position, l.Top[0].Channel, l.Top[0].Value));
        Assert.Equal(2500, l.TopRatio);
        Assert.True(l.Over100 && l.Over1000);
        Assert.Equal(40, l.Top[1].Value);
    }

    [Fact]
    public void CollapseMeasuresOnKnownMatrices()
    {
        float[] same = [1, 2, 3, 1, 2, 3, 1, 2, 3];
        Assert.Equal(1.0, RepresentationCollapse.MeanPairwiseCosine(same, 3), 6);
        Assert.Equal(0.0, RepresentationCollapse.CenteredNormRatio(same, 3), 6);
        float[] ortho = [1, 0, 0, 0, 1, 0, 0, 0, 1];
        Assert.Equal(0.0, RepresentationCollapse.MeanPairwiseCosine(ortho, 3), 6);
        // μ = (1/3)(1,1,1); ‖X − 1μᵀ‖² = 3 · (4/9 + 1/9 + 1/9) = 2; ‖X‖² = 3.
        Assert.Equal(Math.Sqrt(2.0 / 3), RepresentationCollapse.CenteredNormRatio(ortho, 3), 6);
        Assert.Equal(1.0, RepresentationCollapse.MeanPairwiseCosine([9, 9, 9, 1, 2, 3, 1, 2, 3], 3, firstRow: 1), 6);
    }

    [Fact]
    public void MechanicsOnKnownKeysAndQueries()
    {
        // One layer, 1 head, 1 KV head, head_dim 2, 3 tokens: k_0 = (3, 4), others (1, 0); q_t = (3, 4) → cos with k_0 = 1.
        var sm = new SinkMechanics(1, 1, 1, 2);
        float[] k = [3, 4, 1, 0, 1, 0], v = [0, 2, 1, 0, 0, 1], q = [0, 1, 3, 4, 3, 4];
        sm.Add(0, q, k, v, 3);
        MechanicsLayer m = sm.Build()[0];
        Assert.Equal(5, m.KeyNormFirst[0], 6);
        Assert.Equal(1, m.KeyNormOthers[0], 6);
        Assert.Equal(2, m.ValueNormFirst[0], 6);
        Assert.Equal(1, m.CosQueryFirstKey[0], 6);
        Assert.Equal(0.6, m.CosQueryOtherKeys[0], 6);   // cos((3,4),(1,0)) = 3/5
    }

    [Fact]
    public void SinkScoresEqualDirectComputationFromCapturedPatternsOnStories260K()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[][] seqs = CorpusSequences.Take(m.Tokenizer, File.ReadAllText(Shared.TinyStories), 4, 32);
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = 32 });
        SinkReport r = SinkMetrics.Measure(s, seqs, SinkMetrics.DefaultEpsilons);
        var direct = new double[5, 8];
        foreach (int[] ids in seqs)
        {
            ActivationCache c = s.RunWithCache(ids);
            for (int l = 0; l < 5; l++)
                for (int h = 0; h < 8; h++)
                    direct[l, h] += Enumerable.Range(0, 32).Average(t => (double)c[HookPoint.Pattern, l][h, t, 0]) / seqs.Length;
        }
        for (int l = 0; l < 5; l++) for (int h = 0; h < 8; h++) Assert.Equal(direct[l, h], r.AlphaFirst[l][h], 9);
        Assert.Equal(1, seqs[0][0]);
        Assert.Equal(m.Tokenizer.Encode(File.ReadAllText(Shared.TinyStories), addSpecial: false)[31..62], seqs[1][1..]);
    }

    [Fact]
    public void BosAblationNllEqualsDirectLogSoftmax()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        int[][] seqs = CorpusSequences.Take(m.Tokenizer, File.ReadAllText(Shared.TinyStories), 3, 24);
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = 24 });
        BosAblationRow[] rows = BosAblation.Measure(s, seqs, [0.3]);
        Assert.Equal(new[] { "bos", "no_bos", "newline", "random" }, rows.Select(r => r.Variant));
        double nll = 0;
        int n = 0;
        foreach (int[] ids in seqs)
        {
            var logits = new float[24 * 512];
            s.Reset();
            s.Evaluate(ids, logits);
            for (int t = 2; t < 24; t++) { nll -= Perplexity.LogSoftmaxAt(logits.AsSpan((t - 1) * 512, 512), ids[t]); n++; }
        }
        Assert.Equal(nll / n, rows[0].MeanNll, 6);
        Assert.Equal(13, Interventions.NewlineToken(m.Tokenizer));
    }

    [Fact]
    public void SensitivityMaskingKey0EqualsDroppingItUnderRelativeRope()
    {
        // With RoPE, scores depend only on relative positions, so masking key 0 and renormalising is the same
        // computation as removing the first token: the two curves agree to float precision.
        using Model m = Model.Load(Shared.StoriesF32);
        int[][] seqs = CorpusSequences.Take(m.Tokenizer, File.ReadAllText(Shared.TinyStories), 2, 16);
        using var s = new InferenceSession(m, new SessionOptions { ContextSize = 16 });
        SensitivityReport r = Sensitivity.Measure(s, seqs, position: 2, delta: 1e-2, seeds: 2, jacobianSequences: 1);
        Assert.Equal(new[] { "intact", "first_dropped", "key0_masked" }, r.Curves.Select(c => c.Variant));
        for (int l = 0; l < 5; l++) Assert.Equal(r.Curves[1].ByLayer[l], r.Curves[2].ByLayer[l], 3);
        Assert.All(r.Curves, c => Assert.True(c.ByLayer.All(v => v > 0) && c.JacobianNorm > 0));
        Assert.Equal(14, r.Curves[0].ByDistance.Length);
        // Distance 0 at layer L is the perturbed token itself; it moves at least as much as a distant one.
        Assert.True(r.Curves[0].ByDistance[0] > r.Curves[0].ByDistance[^1]);
    }

    [Fact]
    public void TooShortCorpusIsRejectedWithTheNumbers()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        var e = Assert.Throws<ArgumentException>(() => CorpusSequences.Take(m.Tokenizer, "Once upon a time.", 100, 64));
        Assert.Contains("100 sequences of 64 need 6300", e.Message);
    }
}
