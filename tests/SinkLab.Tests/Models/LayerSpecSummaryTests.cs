using SinkLab.Models;

namespace SinkLab.Tests.Models;

public sealed class LayerSpecSummaryTests
{
    [Fact]
    public void GroupsLayersByWindowAndRope()
    {
        var local = new LayerSpec(4096, new RopeConfig(10000f));
        var global = new LayerSpec(0, new RopeConfig(1000000f, 0.125f));
        LayerSpec[] gemma3 = [local, local, local, local, local, global, local, local];
        Assert.Equal(["window 4096, RoPE base 10000: layers 0–4, 6–7", "full attention, RoPE base 1000000 × 0.125: layer 5"],
            LayerSpecSummary.Describe(gemma3));
        Assert.Equal(["full attention, RoPE base 10000: all layers"], LayerSpecSummary.Describe([new LayerSpec(0, new RopeConfig(10000f)), new LayerSpec(0, new RopeConfig(10000f))]));
    }
}
