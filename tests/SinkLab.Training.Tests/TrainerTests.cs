using SinkLab.Models;

namespace SinkLab.Training.Tests;

public class TrainerTests
{
    private static TrainConfig Tiny(string dir, string attention = "softmax", string packing = "bos-per-doc") => TrainConfig.Load(null,
    [
        "name=tiny", $"out_dir={dir}", "steps=12", "batch=4", "warmup=3", "eval_every=6", "eval_batches=2", "checkpoint_every=6",
        "model.dim=32", "model.layers=1", "model.heads=2", "model.kv_heads=2", "model.hidden=48", "model.context=16",
        $"model.attention={attention}", $"data.packing={packing}",
    ]);

    private static string Dir() => Directory.CreateTempSubdirectory("sinklab-train-").FullName;

    [Fact]
    public void SameConfigAndSeedGiveTheSameLossCurve()
    {
        string a = Dir(), b = Dir();
        TrainResult ra = Trainer.Run(Tiny(a)), rb = Trainer.Run(Tiny(b));
        Assert.Equal(ra.Steps.Select(s => s.Loss), rb.Steps.Select(s => s.Loss));
        Assert.Equal(12, ra.Steps.Count);
        Assert.True(ra.Steps[^1].Loss < ra.Steps[0].Loss, "loss should fall");
        Assert.NotNull(ra.Steps[5].EvalLoss);
        Assert.True(File.Exists(ra.Gguf));
        using Model m = Model.Load(ra.Gguf);
        Assert.Equal(1, m.Config.Layers);
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Fact]
    public void ResumeContinuesExactly()
    {
        string a = Dir(), b = Dir();
        TrainResult full = Trainer.Run(Tiny(a));
        Trainer.Run(Tiny(b), stopAfter: 6);                  // "killed" after the checkpoint at step 6
        TrainResult resumed = Trainer.Run(Tiny(b), resume: true);
        Assert.Equal(full.Steps.Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
        Assert.Equal(File.ReadAllBytes(full.Gguf), File.ReadAllBytes(resumed.Gguf));
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Fact]
    public void DevicesResolveToTheCpuHereAndCudaIsRefusedByName()
    {
        // This package ships the CPU libtorch: "auto" trains on the CPU, "cuda" is an error naming the setting.
        Assert.Equal(TorchSharp.DeviceType.CPU, Trainer.ResolveDevice("auto").type);
        Assert.Equal(TorchSharp.DeviceType.CPU, Trainer.ResolveDevice("cpu").type);
        Assert.Contains("cuda", Assert.Throws<ArgumentException>(() => Trainer.ResolveDevice("cuda")).Message);
        string a = Dir(), b = Dir();
        Assert.Equal(Trainer.Run(Tiny(a) with { Device = "cpu" }).Steps.Select(s => s.Loss), Trainer.Run(Tiny(b) with { Device = "auto" }).Steps.Select(s => s.Loss));
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Fact]
    public void ProbesMeasureTheSinksDuringARunAndSurviveAResume()
    {
        // Probes every 3 steps: lines at 3, 6, 9, 12; the run's losses are those of a run without probes (probing only
        // reads the weights); a run killed at 6 and resumed writes the same probes as one that was not.
        string a = Dir(), b = Dir(), c = Dir();
        TrainResult plain = Trainer.Run(Tiny(a));
        TrainResult probed = Trainer.Run(Tiny(b) with { ProbeEvery = 3, ProbeSequences = 4 });
        Assert.Equal(plain.Steps.Select(s => s.Loss), probed.Steps.Select(s => s.Loss));
        string[] lines = File.ReadAllLines(Path.Combine(b, "probes.jsonl"));
        var probes = lines.Select(l => System.Text.Json.JsonSerializer.Deserialize<ProbeRecord>(l, TrainConfig.Json)!).ToArray();
        Assert.Equal(new[] { 3, 6, 9, 12 }, probes.Select(p => p.Step));
        foreach (ProbeRecord p in probes)
        {
            Assert.Equal(new[] { "0.3", "0.5", "0.8" }, p.SinkRate.Keys.Order());
            Assert.InRange(p.MeanAlphaFirst, 0, 1);
            Assert.InRange(p.MaxAlphaFirst, p.MeanAlphaFirst, 1);
            Assert.Equal(Enumerable.Range(1, 16).Average(t => 1.0 / t), p.UniformAlpha, 12);
            Assert.True(double.IsFinite(p.NllWithFirst) && double.IsFinite(p.NllWithoutFirst));
        }
        Trainer.Run(Tiny(c) with { ProbeEvery = 3, ProbeSequences = 4 }, stopAfter: 7);   // killed after the probe at 6, past the checkpoint at 6
        Trainer.Run(Tiny(c) with { ProbeEvery = 3, ProbeSequences = 4 }, resume: true);
        Assert.Equal(lines, File.ReadAllLines(Path.Combine(c, "probes.jsonl")));
        Directory.Delete(a, true); Directory.Delete(b, true); Directory.Delete(c, true);
    }

    [Theory]
    [InlineData("softmax1", "no-bos")]
    [InlineData("sink-logit", "bos-at-window-start")]
    [InlineData("sigmoid", "random-first")]
    [InlineData("gated", "bos-per-doc-masked")]
    [InlineData("sink-token", "bos-per-doc")]
    public void EveryVariantAndPackingTrainsAndExports(string attention, string packing)
    {
        string dir = Dir();
        TrainResult r = Trainer.Run(Tiny(dir, attention, packing) with { Steps = 4, Warmup = 1, EvalEvery = 4 });
        Assert.True(double.IsFinite(r.FinalEvalLoss));
        using Model m = Model.Load(r.Gguf);
        if (attention == "sink-token") Assert.Equal("<sink>", m.Tokenizer.TokenText(m.Tokenizer.BosId));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("model.attention=linear", "model.attention")]
    [InlineData("data.packing=zigzag", "data.packing")]
    [InlineData("model.heads=3", "model.heads")]
    [InlineData("model.context=100000", "data.source")]
    [InlineData("data.source=/nonexistent/corpus.txt", "data.source")]
    [InlineData("steps=0", "steps")]
    public void BadSettingsNameTheSetting(string setting, string named)
    {
        string dir = Dir();
        TrainConfig c = TrainConfig.Load(null, [$"out_dir={dir}", "data.source=" + Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared", "data", "corpora", "tinyshakespeare.txt")), "data.max_chars=20000", setting]);
        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer.Run(c));
        Assert.Contains(named, e.Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void CorruptCheckpointIsRejectedByName()
    {
        string dir = Dir();
        Trainer.Run(Tiny(dir), stopAfter: 6);
        string ckpt = Path.Combine(dir, "checkpoint.bin");
        byte[] bytes = File.ReadAllBytes(ckpt);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(ckpt, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Run(Tiny(dir), resume: true));
        Assert.Contains("checkpoint.bin", e.Message);
        Assert.Contains("SHA-256", e.Message);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void UnknownConfigKeysAreRejected()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => TrainConfig.Load(null, ["model.layerz=3"]));
        Assert.Contains("layerz", e.Message);
    }
}

public class DataDeterminismTests
{
    [Fact]
    public void BatchSeedsAreFixedNumbersNotPerProcessHashes()
    {
        // Pinned values: a change here means resumed runs would see other data than the run they continue.
        // (computed independently with Python integers from the SplitMix64 steps)
        Assert.Equal(1673599033, SinkLab.Training.Data.TrainingData.Mix(1, 0, 17));
        Assert.Equal(1098104884, SinkLab.Training.Data.TrainingData.Mix(7, 123, 91));
    }

    [Fact]
    public void CopyTrainingWritesAPassageAgainLaterInTheWindowAndLeavesOtherRunsAlone()
    {
        var docs = Enumerable.Range(0, 40).Select(d => Enumerable.Range(0, 50).Select(i => 3 + (d * 50 + i) % 200).ToArray()).ToArray();
        SinkLab.Training.Data.TrainingData Make() => SinkLab.Training.Data.TrainingData.FromDocuments(docs, SinkLab.Training.Data.Packing.BosAtWindowStart, 1, -1, 256, 64);
        var plain = Make().Train(7, 3, 8, 64);
        Assert.Equal(plain.Inputs, Make().WithRepeats(0, 16).Train(7, 3, 8, 64).Inputs);   // rate 0: the same data
        var copied = Make().WithRepeats(1, 8).Train(7, 3, 8, 64);
        for (int b = 0; b < 8; b++)
        {
            long[] w = copied.Inputs.AsSpan(b * 64, 64).ToArray();
            long[] t = copied.Targets.AsSpan(b * 64, 64).ToArray();
            long[] full = [.. w, t[^1]];
            Assert.Equal(1, full[0]);   // BOS stays at position 0
            bool found = false;
            for (int src = 1; src + 8 <= full.Length && !found; src++)
                for (int dst = src + 8; dst + 8 <= full.Length && !found; dst++)
                    found = full.AsSpan(src, 8).SequenceEqual(full.AsSpan(dst, 8)) && !full.AsSpan(src, 8).SequenceEqual(full.AsSpan(src + 1, 8));
            Assert.True(found, $"window {b} has no repeated 8-token passage");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Make().WithRepeats(1.5, 16));
    }
}
