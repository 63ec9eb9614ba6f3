using SinkLab.Inference;

namespace SinkLab.Tests.Inference;

public class SamplerTests
{
    private static readonly float[] Logits = [1f, 3f, 2.5f, -1f, 3f, 0f];

    [Fact]
    public void GreedyTakesTheFirstMaximum()
    {
        Assert.Equal(1, new Sampler(6).Sample(Logits));
        Assert.Equal(1, Sampler.ArgMax(Logits));
    }

    [Fact]
    public void SameSeedSameDrawsAndTopKOneIsGreedy()
    {
        var o = new SamplerOptions { Temperature = 1f, Seed = 5 };
        var a = new Sampler(6, o);
        var b = new Sampler(6, o);
        int[] da = Enumerable.Range(0, 50).Select(_ => a.Sample(Logits)).ToArray();
        int[] db = Enumerable.Range(0, 50).Select(_ => b.Sample(Logits)).ToArray();
        Assert.Equal(da, db);
        Assert.True(da.Distinct().Count() > 2);
        var k1 = new Sampler(6, o with { TopK = 1 });
        Assert.All(Enumerable.Range(0, 20), _ => Assert.Equal(1, k1.Sample(Logits)));
    }

    [Fact]
    public void TopPAndMinPKeepOnlyTheLikelyTokens()
    {
        // softmax of Logits: tokens 1 and 4 ≈ 0.35 each, token 2 ≈ 0.21.
        var topP = new Sampler(6, new SamplerOptions { Temperature = 1f, TopP = 0.6f, Seed = 1 });
        Assert.All(Enumerable.Range(0, 200).Select(_ => topP.Sample(Logits)), t => Assert.Contains(t, new[] { 1, 4 }));
        var minP = new Sampler(6, new SamplerOptions { Temperature = 1f, MinP = 0.5f, Seed = 1 });
        int[] seen = Enumerable.Range(0, 300).Select(_ => minP.Sample(Logits)).Distinct().Order().ToArray();
        Assert.Equal(new[] { 1, 2, 4 }, seen);   // exp(2.5 − 3) ≈ 0.61 ≥ 0.5; exp(1 − 3) < 0.5
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits()
    {
        var s = new Sampler(6, new SamplerOptions { RepeatPenalty = 2f });
        s.Accept(1);
        s.Accept(4);
        Assert.Equal(2, s.Sample(Logits));   // 3 → 1.5 for tokens 1 and 4; 2.5 wins
    }

    [Fact]
    public void InvalidSettingsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(6, new SamplerOptions { Temperature = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(6, new SamplerOptions { TopP = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(6, new SamplerOptions { MinP = 1 }));
    }
}
