using SinkLab.Inference;
using SinkLab.Models;

namespace SinkLab.Tests.Inference;

/// <summary>Scratch is allocated once per session: decoding and greedy sampling allocate nothing per token.</summary>
public class AllocationTests
{
    [Fact]
    public void DecodeAllocatesNothingPerToken()
    {
        using Model m = Model.Load(Shared.StoriesF32);
        using var s = new InferenceSession(m);
        var sampler = new Sampler(m.Config.VocabSize);
        int token = 1;
        // Warm up until the JIT has tiered the hot methods (tier-up happens in the background after ~30 calls).
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 100; i++) token = sampler.Sample(s.Decode(token));
            s.Reset();
            Thread.Sleep(200);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++) token = sampler.Sample(s.Decode(token));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
