using SinkLab.Analysis;

namespace SinkLab.Tests.Analysis;

/// <summary>Known answers for the outlier statistics and the quadratic-form analysis.</summary>
public class OutlierTests
{
    [Fact]
    public void HandBuiltTensorWithOneOutlierGivesItsStatistics()
    {
        // 4 tokens × 5 channels of ±1, except token 2, channel 3 = 50.
        int tokens = 4, width = 5;
        var x = new float[tokens * width];
        for (int i = 0; i < x.Length; i++) x[i] = i % 2 == 0 ? 1f : -1f;
        x[2 * width + 3] = 50f;
        OutlierPoint p = OutlierStatistics.Of("test", x, width);
        Assert.Equal(50, p.MaxAbs);
        Assert.Equal((2, 3), (p.Position, p.Channel));
        Assert.Equal(1, p.Median);
        Assert.Equal(50, p.Ratio);
        // Kurtosis of 19 values of ±1 and one 50, by the formula E[(x−μ)⁴]/σ⁴.
        double[] v = x.Select(f => (double)f).ToArray();
        double mu = v.Average(), m2 = v.Select(t => (t - mu) * (t - mu)).Average(), m4 = v.Select(t => Math.Pow(t - mu, 4)).Average();
        Assert.Equal(m4 / (m2 * m2), p.Kurtosis, 9);
        Assert.Equal(new[] { 1.0, 1, 50, 1 }, p.TokenMaxByPosition);
        Assert.Equal(1, p.MedianTokenMax);
        Assert.Equal(2, p.Tokens[0].Position);
        Assert.Equal(50, p.Tokens[0].Ratio);
        Assert.Equal(3, p.Channels[0].Channel);
        Assert.Equal(50, p.Channels[0].MaxAbs);
    }

    [Fact]
    public void GaussianValuesHaveKurtosisThree()
    {
        var rng = new Random(5);
        float[] x = Enumerable.Range(0, 200_000).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))).ToArray();
        Assert.Equal(3, OutlierStatistics.Of("g", x, 100).Kurtosis, 1);
    }

    [Fact]
    public void RankOneSwiGluBlockIsFoundAsOneDirection()
    {
        // Gate and up rows all along one unit direction v (plus small noise): the form is ≈ λ·v·vᵀ, so the analysis must
        // return v (up to sign), carry ~all of the output in it, and its value must equal the block's own output.
        int d = 16, hidden = 24;
        var rng = new Random(11);
        double[] v = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double vn = Math.Sqrt(v.Sum(t => t * t));
        v = v.Select(t => t / vn).ToArray();
        float[][] gate = new float[hidden][], up = new float[hidden][];
        var down = new float[hidden];
        for (int i = 0; i < hidden; i++)
        {
            double a = 1 + rng.NextDouble(), b = 0.5 + rng.NextDouble();
            gate[i] = v.Select(t => (float)(a * t + 1e-3 * (rng.NextDouble() - 0.5))).ToArray();
            up[i] = v.Select(t => (float)(b * t + 1e-3 * (rng.NextDouble() - 0.5))).ToArray();
            down[i] = (float)(rng.NextDouble() + 0.2);
        }
        double[] x = v.Select((t, i) => 3 * t + 0.05 * (rng.NextDouble() - 0.5)).ToArray();
        // The block: Σ_i down_i · silu(g_i) · u_i.
        double output = 0;
        var phi = new double[hidden];
        for (int i = 0; i < hidden; i++)
        {
            double g = gate[i].Select((w, k) => w * x[k]).Sum(), u = up[i].Select((w, k) => w * x[k]).Sum();
            phi[i] = 1 / (1 + Math.Exp(-g));
            output += down[i] * g * phi[i] * u;
        }
        QuadraticFormSpectrum s = QuadraticForm.Analyze(QuadraticForm.Matrix(down, gate, up, phi), x);
        Assert.Equal(output, s.Value, 1e-9 * Math.Abs(output) + 1e-12);
        Assert.True(Math.Abs(s.TopVector.Zip(v, (p, q) => p * q).Sum()) > 0.999, "top direction is v");
        Assert.True(s.TopShare > 0.99 && s.TopShare < 1.01, $"share {s.TopShare}");
        Assert.True(s.SpectralShare > 0.95, $"spectral share {s.SpectralShare}");
        Assert.True(Math.Abs(s.Cosine) > 0.99);
    }

    [Fact]
    public void JacobiEigenDecompositionReconstructsTheMatrix()
    {
        var rng = new Random(3);
        int n = 12;
        var a = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) a[i, j] = a[j, i] = rng.NextDouble() - 0.5;
        var (values, vectors) = QuadraticForm.Eigen(a);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double r = 0;
                for (int k = 0; k < n; k++) r += vectors[i, k] * values[k] * vectors[j, k];
                Assert.Equal(a[i, j], r, 1e-10);
            }
    }

    [Fact]
    public void OnTheSinkModelTheFormReproducesTheMlpOutputAtTheSpike()
    {
        using var m = SinkLab.Models.Model.Load(Path.Combine(Shared.Repo, "models", "tinystories-sink.gguf"));
        int[][] seqs = CorpusSequences.Take(m.Tokenizer, File.ReadAllText(Shared.TinyStories), 8, 32);
        using var session = new SinkLab.Inference.InferenceSession(m, new SinkLab.Inference.SessionOptions { ContextSize = 32 });
        OutlierOrigin o = OutlierOriginAnalysis.Run(session, seqs);
        Assert.NotNull(o.Form);
        Assert.Equal(o.MlpContribution, o.Form!.Value, 1e-4 * Math.Max(1, Math.Abs(o.MlpContribution)));
        Assert.True(Math.Abs(o.Value) >= Math.Abs(o.MlpContribution + o.AttnContribution) * 0.5);
    }
}
