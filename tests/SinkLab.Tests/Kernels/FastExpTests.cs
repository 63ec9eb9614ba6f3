using SinkLab.Kernels;

namespace SinkLab.Tests.Kernels;

/// <summary>The single-precision e^x of the softmax and SwiGLU loops against double precision, and the loops built on it
/// against their definitions. In the Kernels category, so .ci/run runs it with AVX-512 and AVX2 off too.</summary>
[Trait("Category", "Kernels")]
public class FastExpTests
{
    private static int UlpDistance(float a, float b)
    {
        int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
        return Math.Abs(ia - ib);
    }

    [Fact]
    public void ExpIsWithinTwoUlpOfDoublePrecision()
    {
        var r = new Random(5);
        var xs = new List<float> { 0f, -0f, 1f, -1f, 0.5f, -0.34657359f, 0.34657359f, 10f, -10f, 50f, -50f, 88f, -87f, 88.3f, -87.33f };
        for (int i = 0; i < 200_000; i++) xs.Add((float)(r.NextDouble() * 175 - 87.3));
        int worst = 0;
        foreach (float x in xs)
        {
            float want = (float)Math.Exp(x), got = FastExp.Exp(x);
            worst = Math.Max(worst, UlpDistance(want, got));
        }
        Assert.InRange(worst, 0, 2);
    }

    [Fact]
    public void EdgesAreZeroOneAndNaN()
    {
        Assert.Equal(1f, FastExp.Exp(0f));
        Assert.Equal(0f, FastExp.Exp(float.NegativeInfinity));
        Assert.Equal(0f, FastExp.Exp(-100f));
        Assert.True(float.IsNaN(FastExp.Exp(float.NaN)));
        Assert.True(float.IsFinite(FastExp.Exp(88.3f)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(37)]
    [InlineData(256)]
    public void SoftmaxAndSwiGluMatchTheirDefinitions(int n)
    {
        var r = new Random(n);
        float[] x = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 30 - 20)).ToArray();
        if (n > 3) x[2] = float.NegativeInfinity;   // a masked key
        float[] s = (float[])x.Clone();
        FastExp.Softmax(s);
        double max = x.Max(), sum = x.Sum(v => Math.Exp(v - max));
        for (int i = 0; i < n; i++) Assert.Equal(Math.Exp(x[i] - max) / sum, s[i], 1e-6);
        float[] g = (float[])x.Clone(), up = Enumerable.Range(0, n).Select(_ => (float)r.NextDouble()).ToArray();
        if (n > 3) g[2] = -5f;
        float[] want = g.Select((v, i) => (float)(v / (1 + Math.Exp(-(double)v)) * up[i])).ToArray();
        FastExp.SwiGlu(g, up);
        for (int i = 0; i < n; i++) Assert.Equal(want[i], g[i], 1e-5f * Math.Max(1, Math.Abs(want[i])));
    }

    [Fact]
    public void SoftpickMatchesItsDefinitionAndCanAttendToNothing()
    {
        // ReLU(e^x − 1) / Σ|e^x − 1| (Zuhri et al. 2025), computed in double without the max shift; masked keys left out.
        float[] x = [0.5f, -1.2f, 2.0f, float.NegativeInfinity, -0.1f, 0f, 1.3f, -3f, 0.7f];
        double sum = x.Where(float.IsFinite).Sum(v => Math.Abs(Math.Exp(v) - 1));
        float[] got = (float[])x.Clone();
        FastExp.Softpick(got);
        for (int i = 0; i < x.Length; i++)
        {
            double want = float.IsFinite(x[i]) ? Math.Max(Math.Exp(x[i]) - 1, 0) / sum : 0;
            Assert.Equal(want, got[i], 1e-6);
        }
        float[] negative = [-0.5f, -2f, -1f];   // every score below 0: no weight anywhere, no sink needed
        FastExp.Softpick(negative);
        Assert.Equal(new[] { 0f, 0f, 0f }, negative);
    }

    [Fact]
    public void TheSameValueGivesTheSameResultWhereverItSits()
    {
        // Vector lanes and the padded tail run the same arithmetic: a row's values do not depend on its length.
        float[] a = Enumerable.Range(0, 19).Select(i => i * 0.37f - 3).ToArray();
        float[] b = (float[])a.Clone(), c = a[..11];
        FastExp.ExpShifted(b, 0.25f);
        FastExp.ExpShifted(c, 0.25f);
        for (int i = 0; i < 11; i++) Assert.Equal(b[i], c[i]);
        Assert.Equal(b[3], FastExp.Exp(a[3] - 0.25f));
    }

    [Fact]
    public void AllMaskedRowsBecomeZerosAndNaNRowsStayNaN()
    {
        float[] masked = [float.NegativeInfinity, float.NegativeInfinity];
        FastExp.Softmax(masked);
        Assert.Equal(new[] { 0f, 0f }, masked);
        float[] nan = [1f, float.NaN, 2f, 0, 0, 0, 0, 0, 0, 0];
        FastExp.Softmax(nan);
        Assert.True(float.IsNaN(nan[0]));
    }
}
