using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Inference;

/// <summary>YaRN RoPE scaling against the facts llama.cpp computes (../shared/reference/arch/README.md, gpt-oss): the
/// correction range, the magnitude factor and each pair's blended angle.</summary>
public class YarnRopeTests
{
    [Fact]
    public void TheCorrectionRangeAndMagnitudeAreLlamaCppsForGptOss()
    {
        // The seed-1 gpt-oss fixture: n_rot 32, base 150000, n_ctx_orig 4096, factor 32 → low 4, high 9, mscale 1.346574.
        var yarn = new YarnScaling(32f, 4096);
        Assert.Equal((4.0, 9.0), yarn.CorrectionRange(32, 150000));
        Assert.Equal(1.346574, yarn.Magnitude, 6);
    }

    [Fact]
    public void EachPairBlendsItsOriginalAndInterpolatedAngle()
    {
        var config = new RopeConfig(150000f, 1f, new YarnScaling(32f, 4096));
        var table = new RopeTable(config, 32, null, batch: 1, pinned: false);
        const long pos = 37;
        table.Set(0, pos, pinned: false);
        double m = 1 + 0.1 * Math.Log(32);
        for (int i = 0; i < 16; i++)
        {
            double theta = pos * Math.Pow(150000, -2.0 * i / 32);
            double r = 1 - Math.Clamp((i - 4) / 5.0, 0, 1);
            double angle = theta * (1 - r) / 32 + theta * r;
            Assert.Equal(Math.Cos(angle) * m, table.Cos[i], 5);
            Assert.Equal(Math.Sin(angle) * m, table.Sin[i], 5);
        }
        // Pairs 0-4 keep their angle (r = 1), pairs 9-15 are interpolated by the whole factor (r = 0).
        Assert.Equal(Math.Cos(pos * 1.0) * m, table.Cos[0], 5);
        Assert.Equal(Math.Cos(pos * Math.Pow(150000, -30.0 / 32) / 32) * m, table.Cos[15], 5);
    }

    [Fact]
    public void WithoutYarnNothingChanges()
    {
        var table = new RopeTable(new RopeConfig(10000f), 8, null, batch: 1, pinned: false);
        table.Set(0, 5, pinned: false);
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(Math.Cos(5 * Math.Pow(10000, -2.0 * i / 8)) - table.Cos[i]) < 1e-6);
    }
}
