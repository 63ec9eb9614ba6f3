using System.Text.Json;

namespace SinkLab.Tests.Cli;

/// <summary>`sinklab train` and `sinklab experiment` end to end (tiny settings).</summary>
public class TrainCliTests
{
    [Fact]
    public void TrainWritesAGgufTheEngineLoads()
    {
        string dir = Directory.CreateTempSubdirectory("sinklab-train-cli-").FullName;
        var (code, stdout, stderr) = CliTests.Run("train", "--set", "steps=5", "--set", "warmup=1", "--set", "model.dim=16", "--set", "model.hidden=32",
            "--set", "model.heads=2", "--set", "model.kv_heads=1", "--set", "model.context=16", "--set", $"out_dir={dir}", "--set", "name=tiny", "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        string gguf = doc.RootElement.GetProperty("gguf").GetString()!;
        Assert.True(File.Exists(gguf));
        Assert.True(File.Exists(Path.Combine(dir, "metrics.jsonl")) && File.Exists(Path.Combine(dir, "checkpoint.bin")) && File.Exists(Path.Combine(dir, "config.json")));
        var (icode, info, _) = CliTests.Run("info", gguf, "--json");
        Assert.Equal(0, icode);
        Assert.Contains("\"kv_heads\": 1", info);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ExperimentPrintsRunsWithTheirMeasurements()
    {
        string dir = Directory.CreateTempSubdirectory("sinklab-exp-cli-").FullName;
        var (code, stdout, stderr) = CliTests.Run("experiment", "demo", "--out", dir, "--set", "steps=6", "--set", "warmup=1", "--set", "model.context=16", "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement runs = doc.RootElement.GetProperty("runs");
        Assert.Equal(3, runs.GetArrayLength());
        foreach (JsonElement r in runs.EnumerateArray())
        {
            foreach (string field in new[] { "name", "variant", "packing", "context", "layers", "val_loss", "gguf" }) Assert.True(r.TryGetProperty(field, out _), field);
            Assert.Equal(new[] { "0.3", "0.8" }, r.GetProperty("sink_rate").EnumerateObject().Select(p => p.Name));
            Assert.True(File.Exists(r.GetProperty("gguf").GetString()));
        }
        Assert.True(File.Exists(Path.Combine(dir, "table.md")) && File.Exists(Path.Combine(dir, "sink_rate.png")) && File.Exists(Path.Combine(dir, "results.json")));
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("train", "--set", "model.attention=linear")]
    [InlineData("train", "--set", "model.heads=3")]
    [InlineData("train", "--config", "/nonexistent/config.json")]
    [InlineData("experiment", "bogus")]
    [InlineData("train", "--probe-every", "0")]
    [InlineData("train", "--probe-every", "-5")]
    [InlineData("train", "--set", "probe_every=-1")]
    [InlineData("train", "--device", "tpu")]
    [InlineData("train", "--device", "cuda")]   // this build's libtorch is the CPU one: no CUDA device, ever
    [InlineData("train", "--set", "device=gpu")]
    public void BadSettingsFailWithOneLine(params string[] args)
    {
        var (code, stdout, stderr) = CliTests.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
