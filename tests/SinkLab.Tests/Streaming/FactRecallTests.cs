using SinkLab.Evaluation;
using SinkLab.Gguf;
using SinkLab.Models;
using SinkLab.Tests.Cli;

namespace SinkLab.Tests.Streaming;

/// <summary>The bigram-recall language behind the fact-recall test: its trials, its metadata, and the CLI's errors.</summary>
public class FactRecallTests
{
    private static readonly SyntheticTask Task = new(symbols: 24, keys: 4, values: 8, storeRate: 0.05, queryRate: 0.05, seed: 3);

    private static bool IsStore(int id, int key) => id >= Task.Store(key, 0) && id <= Task.Store(key, Task.Values - 1);

    [Fact]
    public void TheLanguageIsTheOneModelsWereTrainedOn()
    {
        // Pinned: moving the generator into the engine (and teaching it to plant facts) must not change the training data.
        var w = new int[12];
        new SyntheticTask(seed: 1).Generate(new Random(5), w);
        Assert.Equal(new[] { 1, 5, 14, 8, 13, 11, 30, 5, 14, 8, 13, 3 }, w);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(5, 1)]
    [InlineData(40, 300)]
    public void AFactIsStoredOnceAndItsKeyIsNeverTouchedElsewhere(int leadIn, int distance)
    {
        for (int trial = 0; trial < 20; trial++)
        {
            var rng = new Random(trial);
            int key = trial % Task.Keys, value = trial % Task.Values;
            int[] seq = Task.FactTrial(rng, key, value, leadIn, distance, planted: true);
            Assert.Equal(leadIn + distance + 3, seq.Length);
            Assert.Equal(1, seq[0]);
            Assert.Equal(Task.Store(key, value), seq[1 + leadIn]);
            Assert.Equal(Task.Query(key), seq[^1]);
            for (int i = 1; i < seq.Length - 1; i++)
            {
                if (i != 1 + leadIn) Assert.False(IsStore(seq[i], key), $"another store of key {key} at {i}");
                Assert.NotEqual(Task.Query(key), seq[i]);
            }
            CheckOtherKeysAnswer(seq);
            int[] control = Task.FactTrial(rng, key, value, leadIn, distance, planted: false);
            Assert.Equal(seq.Length, control.Length);
            Assert.DoesNotContain(control, t => IsStore(t, key));
            Assert.Equal(Task.Query(key), control[^1]);
            CheckOtherKeysAnswer(control);
        }
    }

    /// <summary>Every query but the last is followed by the value last stored under its key.</summary>
    private static void CheckOtherKeysAnswer(int[] seq)
    {
        var memory = new int[Task.Keys];
        Array.Fill(memory, -1);
        for (int i = 1; i < seq.Length - 1; i++)
        {
            int t = seq[i];
            if (t >= Task.Store(0, 0) && t < Task.Query(0)) memory[(t - Task.Store(0, 0)) / Task.Values] = (t - Task.Store(0, 0)) % Task.Values;
            else if (t >= Task.Query(0))
            {
                int k = t - Task.Query(0);
                Assert.True(memory[k] >= 0, $"query of key {k} at {i} before any store");
                Assert.Equal(Task.Content(memory[k]), seq[i + 1]);
            }
        }
    }

    [Fact]
    public void TheTaskTravelsInTheModelFile()
    {
        var w = new GgufWriter();
        w.Add(GgufKeys.Architecture, GgufValue.Of("llama"));
        Task.WriteTo(w);
        using var ms = new MemoryStream();
        w.Write(ms);
        using GgufFile f = GgufFile.Parse(ms.ToArray(), "task.gguf");
        SyntheticTask back = SyntheticTask.ReadFrom(f)!;
        Assert.Equal(Task.ToString(), back.ToString());
        int[] a = new int[300], b = new int[300];
        Task.Generate(new Random(9), a);
        back.Generate(new Random(9), b);
        Assert.Equal(a, b);   // same bigram table, same rates
    }

    [Fact]
    public void IncompleteTaskMetadataIsNamed()
    {
        var w = new GgufWriter();
        w.Add(GgufKeys.Architecture, GgufValue.Of("llama"));
        w.Add(SyntheticTask.KeyPrefix + "name", GgufValue.Of("bigram-recall"));
        w.Add(SyntheticTask.KeyPrefix + "symbols", GgufValue.Of(24u));
        using var ms = new MemoryStream();
        w.Write(ms);
        using GgufFile f = GgufFile.Parse(ms.ToArray(), "task.gguf");
        var e = Assert.Throws<GgufFormatException>(() => SyntheticTask.ReadFrom(f));
        Assert.Contains("sinklab.task.keys", e.Message);
    }

    [Theory]
    [InlineData(1, 4, 8, 0.05, 0.05)]
    [InlineData(24, 0, 8, 0.05, 0.05)]
    [InlineData(24, 4, 25, 0.05, 0.05)]
    [InlineData(24, 4, 8, 0, 0.05)]
    [InlineData(24, 4, 8, 0.6, 0.5)]
    public void BadTaskSettingsAreRefused(int symbols, int keys, int values, double store, double query) =>
        Assert.Throws<ArgumentException>(() => new SyntheticTask(symbols, keys, values, store, query));

    [Fact]
    public void TheCommittedModelAnswersUntilItsCacheDropsTheFact()
    {
        // models/bigram-recall-512.gguf answers from a full cache; a 16-token StreamingLLM cache that has evicted the fact
        // 64 tokens back can only guess, while at distance 4 the fact is still inside it. Trials are seeded: fixed numbers.
        string model = Path.Combine(Shared.Repo, "models", "bigram-recall-512.gguf");
        var (code, stdout, err) = CliTests.Run("recall", model, "--task", "facts", "--cache", "full,sink:4+12", "--distances", "4,64",
            "--trials", "40", "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        double Acc(int policy, int point) => doc.RootElement[policy].GetProperty("points")[point].GetProperty("accuracy").GetDouble();
        double Base(int point) => doc.RootElement[0].GetProperty("points")[point].GetProperty("baseline").GetDouble();
        Assert.InRange(Acc(0, 0), 0.9, 1);
        Assert.InRange(Acc(0, 1), 0.9, 1);
        Assert.InRange(Acc(1, 0), 0.9, 1);
        Assert.InRange(Acc(1, 1), 0, 0.4);
        Assert.InRange(Base(1), 0, 0.4);
    }

    [Fact]
    public void FactsNeedATaskModelAndPassagesNeedACorpus()
    {
        var (code, _, err) = CliTests.Run("recall", Shared.StoriesF32, "--task", "facts");
        Assert.Equal(2, code);
        Assert.Contains("sinklab.task", err);
        (code, _, err) = CliTests.Run("recall", Shared.StoriesF32);
        Assert.Equal(2, code);
        Assert.Contains("--file", err);
        (code, _, err) = CliTests.Run("recall", Shared.StoriesF32, "--task", "quiz");
        Assert.Equal(2, code);
        Assert.Contains("--task", err);
    }
}
