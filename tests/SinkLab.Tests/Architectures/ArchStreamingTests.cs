using SinkLab.Caching;
using SinkLab.Gguf;
using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Architectures;

/// <summary>
/// Every cache policy on every architecture against the literal float64 cache of <see cref="ArchForward"/>: keys
/// before RoPE rotated at read time, ALiBi distances, sliding windows and learned positions all counted in the
/// positions the policy defines (inside the cache, or the stream's with @original), a 40-token stream, token by token
/// and in batched chunks.
/// </summary>
public class ArchStreamingTests
{
    private static readonly int[] Stream = Enumerable.Range(0, 40).Select(i => i == 0 ? 1 : (i * 37 + 11) % 300).ToArray();

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string arch in ArchitectureRegistry.Supported)
            foreach (string policy in new[] { "sink:2+5", "sink:2+12", "window:6", "sink:2+5@original", "sink:4+9@original", "shift:2" })
                data.Add(arch, policy);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CachePolicyMatchesTheLiteralCache(string arch, string policyText)
    {
        const int shiftContext = 16;
        CachePolicy policy = CachePolicy.Parse(policyText);
        using Model m = Model.FromGguf(ArchFixtureTests.Fixture(arch));
        var options = new SessionOptions { Cache = policy, ContextSize = policy.Kind == CacheKind.Shift ? shiftContext : 0, Gelu = GeluMode.Tanh };
        if (m.Config.Block.Positions == PositionKind.Learned && policy.OriginalPositions)
        {
            // Stream positions of an endless stream would run past the learned table: refused up front, by name.
            var e = Assert.Throws<ArgumentException>(() => new InferenceSession(m, options));
            Assert.Contains("learned absolute positions", e.Message);
            return;
        }
        ArchForward.Policy literal = policy.Kind == CacheKind.Shift
            ? new(policy.Sinks, ShiftCapacity: shiftContext)
            : new(policy.Sinks, policy.Window, policy.OriginalPositions);
        double[][] want = ArchForward.Logits(m.File, Stream, literal);

        using (var s = new InferenceSession(m, options))
            Assert.InRange(ArchFixtureTests.MaxRelativeError(want, Stream.Select(t => s.Decode(t).ToArray()).ToArray()), 0, 1e-4);
        Assert.InRange(ArchFixtureTests.MaxRelativeError(want, ArchFixtureTests.Batched(m, Stream, options with { Threads = 2, BatchSize = 7 })), 0, 1e-4);
    }

    [Fact]
    public void LearnedPositionsBoundTheDenseCacheByTheirTable()
    {
        using Model m = Model.FromGguf(ArchFixtureTests.Fixture("gpt2"));
        Assert.Equal(m.Config.ContextLength, m.Config.PositionRows);
        var e = Assert.Throws<ArgumentException>(() => new InferenceSession(m, new SessionOptions { ContextSize = m.Config.PositionRows + 1 }));
        Assert.Contains($"{m.Config.PositionRows} learned positions", e.Message);
        using var ok = new InferenceSession(m, new SessionOptions { Cache = CachePolicy.Parse($"sink:4+{m.Config.PositionRows - 5}") });
    }
}
