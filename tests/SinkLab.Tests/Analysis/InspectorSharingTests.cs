using SinkLab.Analysis;
using SinkLab.Models;

namespace SinkLab.Tests.Analysis;

/// <summary>The inspector reuses its intact and first-dropped passes as BOS ablation's "bos" and "no_bos" variants;
/// the rows must be exactly those of a BOS ablation that runs every variant itself.</summary>
public sealed class InspectorSharingTests
{
    [Fact]
    public void SharedPassesGiveTheSameBosAblation()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        string text = File.ReadAllText(Shared.TinyStories);
        var shared = Inspector.Run(m, "m", "c", text, new InspectOptions { Sequences = 6, Tokens = 32, Threads = 1, Only = new HashSet<string> { "sinks", "collapse", "bos" } });
        var alone = Inspector.Run(m, "m", "c", text, new InspectOptions { Sequences = 6, Tokens = 32, Threads = 1, Only = new HashSet<string> { "bos" } });
        Assert.Equal(4, shared.BosAblation!.Length);
        Same(alone.BosAblation!, shared.BosAblation!);
        var fewer = Inspector.Run(m, "m", "c", text, new InspectOptions { Sequences = 6, Tokens = 32, Threads = 1, BosSequences = 3, Only = new HashSet<string> { "sinks", "bos" } });
        var fewerAlone = Inspector.Run(m, "m", "c", text, new InspectOptions { Sequences = 6, Tokens = 32, Threads = 1, BosSequences = 3, Only = new HashSet<string> { "bos" } });
        Same(fewerAlone.BosAblation!, fewer.BosAblation!);
    }

    private static void Same(BosAblationRow[] expected, BosAblationRow[] actual)
    {
        Assert.Equal(expected.Select(r => (r.Variant, r.FirstToken, r.MeanNll, r.MeanAlphaFirst)), actual.Select(r => (r.Variant, r.FirstToken, r.MeanNll, r.MeanAlphaFirst)));
        Assert.Equal(expected.Select(r => r.SinkRate.OrderBy(kv => kv.Key).ToArray()), actual.Select(r => r.SinkRate.OrderBy(kv => kv.Key).ToArray()));
    }
}
