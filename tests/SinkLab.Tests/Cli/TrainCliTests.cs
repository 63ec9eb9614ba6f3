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

/// <summary>`sinklab plot probes` and `sinklab plot points` end to end.</summary>
public class PlotCliTests
{
    [Fact]
    public void ProbeCurvesOfTwoSeedsAndAPointTableBecomePngs()
    {
        string dir = Directory.CreateTempSubdirectory("sinklab-plot-cli-").FullName;
        foreach (int seed in new[] { 1, 2 })
        {
            var (code, _, stderr) = CliTests.Run("train", "--set", "steps=4", "--set", "warmup=1", "--set", "model.dim=16", "--set", "model.hidden=32",
                "--set", "model.heads=2", "--set", "model.kv_heads=2", "--set", "model.context=16", "--set", $"seed={seed}", "--set", "eval_every=2",
                "--set", $"out_dir={Path.Combine(dir, $"tiny-s{seed}")}", "--probe-every", "2");
            Assert.True(code == 0, stderr);
        }
        string png = Path.Combine(dir, "alpha.png");
        var (pc, _, perr) = CliTests.Run("plot", "probes", Path.Combine(dir, "tiny-s1"), Path.Combine(dir, "tiny-s2"), "-m", "alpha-ratio", "-o", png);
        Assert.True(pc == 0, perr);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
        string table = Path.Combine(dir, "t.tsv");
        File.WriteAllLines(table, ["series\tx\tmean\thalf", "own T\t32\t1.5\t0.2", "own T\t64\t2.5\t0.1"]);
        var (tc, _, terr) = CliTests.Run("plot", "points", table, "--log2-x", "-o", Path.Combine(dir, "t.png"));
        Assert.True(tc == 0, terr);
        Assert.True(File.ReadAllBytes(Path.Combine(dir, "t.png")).Length > 1000);
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("probes", "/nonexistent/run-s1")]
    [InlineData("probes", ".", "-m", "bogus")]
    [InlineData("points", "/nonexistent/table.tsv")]
    public void BadPlotInputFailsWithOneLineAndNoFile(params string[] args)
    {
        string png = Path.Combine(Path.GetTempPath(), $"sinklab-plot-{Guid.NewGuid():N}.png");
        var (code, stdout, stderr) = CliTests.Run(["plot", .. args, "-o", png]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(File.Exists(png));
    }
}
