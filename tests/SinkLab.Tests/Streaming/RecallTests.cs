using SinkLab.Evaluation;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.Streaming;

/// <summary>The repeated-passage recall test: its sequences, and the CLI.</summary>
public class RecallTests
{
    [Fact]
    public void SequencesHoldThePassageTwiceOrOnlyAtTheEnd()
    {
        int[] corpus = Enumerable.Range(100, 200).ToArray();
        int[] seq = RecallTest.Build(corpus, 1, passage: 50, filler: 120, length: 4, leadIn: 3, distance: 5, withFirst: true);
        Assert.Equal(new[] { 1, 220, 221, 222, 150, 151, 152, 153, 223, 224, 225, 226, 227, 150, 151, 152, 153 }, seq);
        int[] control = RecallTest.Build(corpus, 1, passage: 50, filler: 120, length: 4, leadIn: 3, distance: 5, withFirst: false);
        Assert.Equal(new[] { 1, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 150, 151, 152, 153 }, control);
    }

    [Fact]
    public void TrialSeedsAreTheSameInEveryProcess() =>
        Assert.Equal(new[] { 632770474, 331700593 }, new[] { RecallTest.Mix(1, 8, 0), RecallTest.Mix(1, 400, 99) });

    [Fact]
    public void RecallRunsPoliciesAndMarksWhatADenseCacheCannotHold()
    {
        var (code, stdout, err) = CliTests.Run("recall", Shared.StoriesF32, "-f", Shared.TinyStories, "--cache", "full,sink:4+28,tova:4+28",
            "--distances", "4,600", "--trials", "3", "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var runs = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(new[] { "full", "sink:4+28", "tova:4+28" }, runs.Select(r => r.GetProperty("policy").GetString()));
        Assert.Equal(0, runs[0].GetProperty("points")[1].GetProperty("trials").GetInt32());   // 600 apart does not fit ctx 512
        foreach (var r in runs.Skip(1))
            Assert.InRange(r.GetProperty("points")[1].GetProperty("accuracy").GetDouble(), 0, 1);
        (code, _, err) = CliTests.Run("recall", Shared.StoriesF32, "-f", Shared.TinyStories, "--distances", "8,-1");
        Assert.Equal(2, code);
        Assert.Contains("--distances", err);
        (code, _, err) = CliTests.Run("recall", Shared.StoriesF32, "-f", Shared.TinyStories, "--cache", "recompute:64");
        Assert.Equal(2, code);
        Assert.Contains("recompute", err);
    }
}
