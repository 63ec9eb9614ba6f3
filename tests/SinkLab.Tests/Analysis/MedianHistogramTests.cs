using SinkLab.Analysis;

namespace SinkLab.Tests.Analysis;

public sealed class MedianHistogramTests
{
    [Fact]
    public void MedianIsWithinABucketOfTheExactOne()
    {
        var rng = new Random(3);
        foreach (int n in new[] { 1, 2, 7, 1000, 100_001 })
        {
            var h = new MedianHistogram();
            var values = new float[n];
            for (int i = 0; i < n; i++)
            {
                values[i] = (float)Math.Exp(rng.NextDouble() * 8 - 4) * (rng.Next(2) == 0 ? -1 : 1);   // log-uniform, both signs
                h.Add(values[i]);
            }
            float[] sorted = values.Select(Math.Abs).Order().ToArray();
            double exact = n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
            Assert.InRange(Math.Abs(h.Median() - exact) / exact, 0, 1.0 / 256);
            Assert.Equal(n, h.Count);
        }
    }

    [Fact]
    public void DistinctBucketsAndRepeatedValuesAreExact()
    {
        var h = new MedianHistogram();
        foreach (float v in new[] { 3f, 1f, 2f }) h.Add(v);
        Assert.Equal(2.0, h.Median());
        var same = new MedianHistogram();
        for (int i = 0; i < 10; i++) same.Add(1.5f);
        same.Add(float.NaN);
        Assert.Equal(1.5, same.Median());
        Assert.Equal(0, new MedianHistogram().Median());
    }
}
