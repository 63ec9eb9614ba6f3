using SinkLab.Caching;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Architectures;

/// <summary>
/// The eviction policies on models with sliding-window layers (Gemma 2/3, Phi-3, gpt-oss): a windowed layer keeps
/// its own last W − 1 tokens and the policy runs in the full-attention layers. Checked against the literal float64
/// cache of <see cref="ArchForward"/> (recent-only H2O is StreamingLLM in the full layers) and against the dense cache
/// when the policy's budget is never reached, token by token and in batched chunks, on a 40-token stream that is
/// longer than every fixture's window.
/// </summary>
public class ArchEvictionTests
{
    private static readonly int[] Stream = Enumerable.Range(0, 40).Select(i => i == 0 ? 1 : (i * 37 + 11) % 300).ToArray();
    private static readonly string[] Windowed = ["gemma2", "gemma3", "phi3", "gpt-oss"];

    public static TheoryData<string, string> RecentOnly()
    {
        var data = new TheoryData<string, string>();
        foreach (string arch in Windowed)
            foreach (string policy in new[] { "h2o:0+0+5", "h2o:2+0+5", "h2o:2+0+5@original", "h2o:2+0+12" })
                data.Add(arch, policy);
        return data;
    }

    public static TheoryData<string, string> NeverEvicting()
    {
        var data = new TheoryData<string, string>();
        foreach (string arch in Windowed)
            foreach (string policy in new[] { "h2o:4+30+30", "tova:4+60", "snapkv:4+60", "pyramid:4+900", "keydiff:4+60", "tova:4+60@original" })
                data.Add(arch, policy);
        return data;
    }

    private static float[][] TokenByToken(Model m, SessionOptions o)
    {
        using var s = new InferenceSession(m, o);
        return Stream.Select(t => s.Decode(t).ToArray()).ToArray();
    }

    private static float[][] Chunked(Model m, SessionOptions o) => ArchFixtureTests.Batched(m, Stream, o with { Threads = 2, BatchSize = 7 });

    [Theory]
    [MemberData(nameof(RecentOnly))]
    public void WindowedLayersKeepTheirWindowWhileTheFullLayersEvict(string arch, string policyText)
    {
        CachePolicy policy = CachePolicy.Parse(policyText);
        using Model m = Model.FromGguf(ArchFixtureTests.Fixture(arch));
        int window = m.Config.LayerSpecs.Max(s => s.Window);
        Assert.InRange(window, 2, Stream.Length / 2);   // the stream leaves every window
        var options = new SessionOptions { Cache = policy, Gelu = GeluMode.Tanh };
        double[][] want = ArchForward.Logits(m.File, Stream, new(policy.Sinks, policy.Window, policy.OriginalPositions, LocalKeepsWindow: true));
        Assert.InRange(ArchFixtureTests.MaxRelativeError(want, TokenByToken(m, options)), 0, 1e-4);
        Assert.InRange(ArchFixtureTests.MaxRelativeError(want, Chunked(m, options)), 0, 1e-4);

        using var s = new InferenceSession(m, options);
        foreach (int t in Stream) s.Decode(t);
        for (int l = 0; l < m.Config.Layers; l++)
        {
            int w = m.Config.LayerSpecs[l].Window;
            int expect = w > 0 ? w - 1 : policy.Budget;   // the windowed layer's own window, else the policy's budget
            Assert.Equal(w, s.Evicting!.LocalWindow(l));
            for (int k = 0; k < m.Config.KvHeads; k++)
            {
                long[] kept = s.Evicting.Positions(l, k).ToArray();
                Assert.Equal(expect, kept.Length);
                if (w > 0) Assert.Equal(Enumerable.Range(Stream.Length - w + 1, w - 1).Select(p => (long)p), kept);
            }
        }
    }

    [Theory]
    [MemberData(nameof(NeverEvicting))]
    public void APolicyThatNeverEvictsInTheFullLayersComputesWhatTheDenseCacheComputes(string arch, string policyText)
    {
        using Model m = Model.FromGguf(ArchFixtureTests.Fixture(arch));
        var dense = new SessionOptions { Gelu = GeluMode.Tanh, ContextSize = 64 };
        var evicting = dense with { Cache = CachePolicy.Parse(policyText), ContextSize = 0 };
        double[][] want = TokenByToken(m, dense).Select(r => r.Select(x => (double)x).ToArray()).ToArray();
        Assert.InRange(ArchFixtureTests.MaxRelativeError(want, TokenByToken(m, evicting)), 0, 1e-4);
        Assert.InRange(ArchFixtureTests.MaxRelativeError(want, Chunked(m, evicting)), 0, 1e-4);
    }

    [Fact]
    public void APrefixSurvivesResetWhenWindowedLayersHaveDroppedIt()
    {
        using Model m = Model.FromGguf(ArchFixtureTests.Fixture("gpt-oss"));
        int[] prefix = Stream[..5];
        var options = new SessionOptions { Cache = CachePolicy.Parse("h2o:2+4+8"), Prefix = prefix };
        using var s = new InferenceSession(m, options);
        float[] first = Stream[5..].Select(t => s.Decode(t).ToArray()).Last();
        s.Reset();
        Assert.Equal(prefix.Length, s.Position);
        float[] again = Stream[5..].Select(t => s.Decode(t).ToArray()).Last();
        Assert.Equal(first, again);
    }
}
